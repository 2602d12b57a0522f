using MLTransfer.Tests.Fixtures;
using MLTransfer.Training;

namespace MLTransfer.Tests.Service;

/// <summary>
/// Two small real models for the service tests, trained once per test run on the bundled samples with the
/// fast MobileNet v1 0.75/192 backbone and two seeds (so the reload tests have a genuinely different model).
/// </summary>
public static class ServiceModels
{
    private static readonly Lazy<(string First, string Second)> Models = new(Train, LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly Lazy<string> Root = new(() => Directory.CreateTempSubdirectory("mlt-service-models-").FullName);

    /// <summary>Model trained with seed 1.</summary>
    public static string First => Models.Value.First;

    /// <summary>Model trained with seed 2.</summary>
    public static string Second => Models.Value.Second;

    /// <summary>The bundled sample images (4 classes, 140 JPEGs).</summary>
    public static string SamplesDir => Path.Combine(TestPaths.RepoRoot, "data-samples");

    /// <summary>Some sample images with their true class, in a fixed order.</summary>
    public static IReadOnlyList<(string Path, string Label)> SampleImages(int count) =>
        Directory.GetDirectories(SamplesDir).OrderBy(d => d, StringComparer.Ordinal)
            .SelectMany(d => Directory.GetFiles(d, "*.jpg").OrderBy(f => f, StringComparer.Ordinal).Take(count / 4 + 1).Select(f => (f, Path.GetFileName(d))))
            .Take(count).ToList();

    /// <summary>A fresh folder holding a copy of <paramref name="model"/> as <c>served.zip</c>, for a server to watch.</summary>
    public static string CopyToFreshFolder(string model)
    {
        var dir = Path.Combine(Root.Value, "served-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "served.zip");
        File.Copy(model, path);
        return path;
    }

    /// <summary>Deletes the models and every served copy (called once after all service tests).</summary>
    internal static void DeleteAll()
    {
        if (Root.IsValueCreated && Directory.Exists(Root.Value))
            Directory.Delete(Root.Value, true);
    }

    private static (string, string) Train()
    {
        var workspace = Path.Combine(Root.Value, "workspace");
        string TrainOne(int seed)
        {
            var path = Path.Combine(Root.Value, $"seed{seed}.zip");
            using var model = TransferLearner.Train(SamplesDir, new TransferLearningOptions
            {
                Backbone = new() { Name = "mobilenet-v1-0.75-192", Dirs = [Path.Combine(TestPaths.SharedDir, "models")], AllowDownload = false },
                Cache = new() { WorkspacePath = workspace },
                Seed = seed,
            });
            model.Save(path);
            return path;
        }
        return (TrainOne(1), TrainOne(2));
    }
}
