using System.Text.Json;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;

namespace MLTransfer.Tests.Benchmarks;

/// <summary>
/// Smoke test of <c>mltransfer bench-ood</c> on two small subsets of real sets (flower photos, satellite patches)
/// plus clip-art as a foreign-only set: every pair is measured, and the far pairs separate.
/// </summary>
[TestFixture, NonParallelizable]
public class OodBenchCommandTests
{
    [Test]
    public void BenchOod_TrainsOnEachSet_AndMeasuresEveryForeignSet()
    {
        using var root = new TempDataset();
        foreach (var (dataset, classes) in new[] { ("flowers", new[] { "daisy", "roses" }), ("eurosat_rgb", new[] { "Forest", "SeaLake" }) })
            foreach (var label in classes)
                foreach (var file in Directory.GetFiles(Path.Combine(TempDataset.SharedDatasets, dataset, label)).Order(StringComparer.Ordinal).Take(14))
                    root.CopyShared(Path.GetRelativePath(TempDataset.SharedDatasets, file), Path.Combine(dataset, label, Path.GetFileName(file)));
        using var clipArt = new TempDataset();
        using var workspace = new TempDataset();
        foreach (var file in Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, "data-samples", "fruit")).Order(StringComparer.Ordinal).Take(10))
            clipArt.AddFile(Path.Combine("fruit", Path.GetFileName(file)), File.ReadAllBytes(file));

        var result = CliRunner.Run(["bench-ood", "--datasets", root.Root, "--foreign", clipArt.Root, "--backbone", TestPaths.SharedModel("mobilenet_v2_1.0_224.onnx"),
            "--offline", "--workspace", workspace.Root, "--json"], TimeSpan.FromMinutes(5));
        Assert.That(result.ExitCode, Is.Zero, result.StdErr);
        var r = JsonDocument.Parse(result.StdOut).RootElement;
        var models = r.GetProperty("models").EnumerateArray().ToList();
        Assert.That(models.Select(m => m.GetProperty("dataset").GetString()), Is.EqualTo(new[] { "eurosat_rgb", "flowers" }));
        foreach (var m in models)
        {
            Assert.That(m.GetProperty("heldOut").GetString(), Is.EqualTo("test"));
            Assert.That(m.GetProperty("eceBefore").GetDouble(), Is.InRange(0, 1));
            Assert.That(m.GetProperty("coverageCurve").GetArrayLength(), Is.EqualTo(21));
        }
        var pairs = r.GetProperty("pairs").EnumerateArray().Select(p => (Train: p.GetProperty("train").GetString(), Foreign: p.GetProperty("foreign").GetString(),
            Images: p.GetProperty("foreignImages").GetInt32(), Auroc: p.GetProperty("auroc").GetDouble(), LetThrough: p.GetProperty("foreignAccepted").GetDouble())).ToList();
        var clipArtName = Path.GetFileName(clipArt.Root);
        Assert.That(pairs.Select(p => (p.Train, p.Foreign, p.Images)), Is.EqualTo(new[]
        {
            ("eurosat_rgb", "flowers", 28), ("eurosat_rgb", clipArtName, 10), ("flowers", "eurosat_rgb", 28), ("flowers", clipArtName, 10),
        }));
        TestContext.Out.WriteLine(string.Join("\n", pairs.Select(p => $"{p.Train} -> {p.Foreign}: AUROC {p.Auroc:F3}, {p.LetThrough:P0} let through")));
        // Satellite patches and flower photos are far apart in any ImageNet feature space, even with 28 training images.
        Assert.That(pairs.Where(p => p.Foreign != clipArtName).Select(p => p.Auroc), Is.All.GreaterThan(0.9));

        var text = CliRunner.Run(["bench-ood", "--datasets", root.Root, "--backbone", TestPaths.SharedModel("mobilenet_v2_1.0_224.onnx"),
            "--offline", "--workspace", workspace.Root, "--foreign-limit", "5"], TimeSpan.FromMinutes(5));
        Assert.That(text.ExitCode, Is.Zero, text.StdErr);
        Assert.That(text.StdOut, Does.Contain("| flowers → eurosat_rgb | 5 |").And.Contain("AUROC (OOD score)").And.Contain("ECE before → after"));
    }

    [Test]
    public void BenchOod_NeedsTwoDatasets()
    {
        using var root = new TempDataset();
        root.AddFolder("only");
        var result = CliRunner.Run(["bench-ood", "--datasets", root.Root]);
        Assert.That(result.ExitCode, Is.EqualTo(1));
        Assert.That(result.StdErr, Does.Contain("at least two datasets"));
    }
}
