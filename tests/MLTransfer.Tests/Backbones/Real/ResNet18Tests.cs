using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLTransfer.Backbones;
using MLTransfer.Backbones.Catalog;
using MLTransfer.Backbones.Onnx;
using MLTransfer.Backbones.Store;
using MLTransfer.Export;
using MLTransfer.FineTuning;
using MLTransfer.Images;
using MLTransfer.Inference;
using MLTransfer.Tests.Backbones.Store;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Training;
using NUnit.Framework;

namespace MLTransfer.Tests.Backbones.Real;

/// <summary>ML.NET's headless ResNet-18 (NuGet package, combined with its preprocessing) through train, reload, export and finetune.</summary>
[TestFixture, NonParallelizable]
public class ResNet18Tests
{
    private string _dir = "";
    private string _combined = "";
    private TempDataset _data = null!;

    [OneTimeSetUp]
    public void BuildTheCombinedGraph()
    {
        _dir = Directory.CreateTempSubdirectory("mlt-resnet18-").FullName;
        // A private cache: the combined graph is built from the machine's global packages folder without touching the user's cache.
        using var store = new BackboneStore(BackboneCatalog.BuiltIn, new BackboneStoreOptions
        {
            CacheDir = Path.Combine(_dir, "cache"),
            AllowDownload = false,
            NuGetGlobalPackagesFolder = NuGetTestPackages.GlobalPackagesFolder,
        });
        _combined = store.Resolve("resnet18").FilePath;
        _data = RealBackboneRuns.FlowersSubset(10);
    }

    [OneTimeTearDown]
    public void TearDown()
    {
        _data.Dispose();
        Directory.Delete(_dir, true);
    }

    [Test]
    public void Train_ReloadAndFusedExport_AllGiveTheSameScores()
    {
        var log = new List<string>();
        // The combined graph named by path is recognised as the 'resnet18' record (its cache name and recorded hash).
        using var model = TransferLearner.Train(_data.Root, new TransferLearningOptions
        {
            Backbone = new() { Name = _combined, AllowDownload = false },
            Cache = new() { WorkspacePath = Path.Combine(_dir, "ws") },
            Seed = 1,
            Log = log.Add,
        });
        Assert.That(model.Metadata.Backbone.Name, Is.EqualTo("resnet18"));
        Assert.That(model.Metadata.FeatureSize, Is.EqualTo(512));
        Assert.That(model.Metadata.Backbone.FeatureTensor, Is.EqualTo("Pooling395_Output_0"));
        Assert.That(log, Has.Some.Contains("the graph's own output: headless backbone, no classifier"));
        Assert.That(log, Has.None.Contains("fixes its batch size"), "the combined graph takes any batch");

        var images = Directory.GetFiles(_data.Root, "*.jpg", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Where((_, i) => i % 5 == 0).ToList();
        var zip = Path.Combine(_dir, "resnet18.zip");
        RealBackboneRuns.SaveReloadAndCompare(model, zip, images);

        // The fused ONNX export (raw pixels -> combined ResNet-18 -> head -> softmax) against the reloaded zip, on identical pixels.
        var fused = FusedOnnxExporter.Export(zip);
        Assert.That(OnnxModelIO.Parse(fused).OpsetImport.Single(o => o.Domain.Length == 0).Version, Is.EqualTo(8), "the backbone's opset is kept");
        using var session = new InferenceSession(fused);
        using var classifier = ImageClassifier.Load(zip);
        foreach (var image in images)
        {
            var decoded = ImageDecoder.DecodeFile(image, 224, 224, ResizeMode.IsoCrop);
            var pixels = new float[3 * 224 * 224];
            decoded.WritePlanes(pixels);
            using var results = session.Run([NamedOnnxValue.CreateFromTensor(PreparedBackbone.InputName, new DenseTensor<float>(pixels, [1, 3, 224, 224]))]);
            var onnx = results.Single(r => r.Name == FusedOnnxExporter.OutputName).AsEnumerable<float>().ToArray();
            Assert.That(onnx, Is.EqualTo(classifier.Score(decoded)).Within(1e-5f), image);
        }
    }

    [Test]
    public void FineTune_ThroughTheMaxPool_IsRefusedWithOneLineNamingTheOperator()
    {
        var convs = OnnxModelIO.Load(_combined).Graph.Node.Count(n => n.OpType == "Conv");
        var ex = Assert.Throws<MLTransferException>(() => FineTuner.Run(_data.Root, new FineTuningOptions
        {
            Transfer = new TransferLearningOptions { Backbone = new() { Name = _combined, AllowDownload = false }, Cache = new() { WorkspacePath = Path.Combine(_dir, "ws-ft") } },
            Unfreeze = convs,
        }));
        Assert.That(ex!.Message, Does.Contain("(MaxPool) above the cut cannot be fine-tuned"));
        Assert.That(ex.Message, Does.Not.Contain("\n"));
        Assert.That(ex.Fix, Does.Contain("Unfreeze fewer layers"));
        Assert.That(Directory.Exists(Path.Combine(_dir, "ws-ft", "cuts")), Is.False, "refused before any image was read");

        var cli = CliRunner.Run(["finetune", "--data", _data.Root, "--backbone", _combined, "--unfreeze", convs.ToString(), "--offline", "--quiet"],
            environment: CliRunner.Isolated(Path.Combine(_dir, "home")));
        Assert.That(cli.ExitCode, Is.EqualTo(1), cli.ToString());
        Assert.That(cli.StdErr.Trim().Split('\n').Last(), Does.StartWith("error: Node 'Pooling255' (MaxPool) above the cut cannot be fine-tuned"));
    }
}
