using Google.Protobuf;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Microsoft.ML.Transforms.Image;
using MLTransfer.Backbones;
using MLTransfer.Backbones.Onnx;
using MLTransfer.Export;
using MLTransfer.FineTuning;
using MLTransfer.Inference;
using MLTransfer.Tests.Backbones.Real;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Tests.Training;
using MLTransfer.Training;
using NUnit.Framework;
using static MLTransfer.Tests.Backbones.BackboneTestSupport;

namespace MLTransfer.Tests.Backbones;

/// <summary>
/// A backbone with no classifier, whose single pooled output is the embedding (like ML.NET's ResNet-18), works
/// wherever a classifier backbone does: detection, preparation, inspect, train, the estimator, export and finetune.
/// </summary>
[TestFixture, NonParallelizable]
public class HeadlessBackboneTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("mlt-headless-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, true);

    private static string Samples => Path.Combine(TestPaths.RepoRoot, "data-samples");

    private string WriteHeadless(int size = 32, bool globalPool = false)
    {
        var file = Path.Combine(_dir, $"headless_{size}.onnx");
        File.WriteAllBytes(file, OnnxFixtures.TinyHeadless(size: size, globalPool: globalPool).ToByteArray());
        return file;
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Detect_TheSinglePooledOutputOfAGraphWithoutClassifier_IsTheFeatureTensor(bool globalPool)
    {
        var info = FeatureTensorDetector.Detect(OnnxFixtures.TinyHeadless(width: 12, globalPool: globalPool));

        Assert.That(info, Is.EqualTo(new FeatureTensorInfo(OnnxFixtures.HeadlessOutput, null, null, 12, NeedsFlatten: true, HeadlessOutput: true)));
        Assert.That(info.UserSpecified, Is.False);
        Assert.That(info.ToString(), Is.EqualTo("'embedding' (12 features, the graph's own output: headless backbone, no classifier, flattened)"));
    }

    [Test]
    public void Detect_AnUnpooledOutput_IsStillRefused()
    {
        var ex = Assert.Throws<MLTransferException>(() => FeatureTensorDetector.Detect(OnnxFixtures.NoClassifier(), source: "plain_conv.onnx"));
        Assert.That(ex!.Message, Does.Contain("not a single pooled feature map").And.Contain("'out' [N,4,32,32]"));
    }

    [Test]
    public void Prepare_FlattensTheOutput_AndComputesWhatTheOriginalGraphComputes()
    {
        var bytes = OnnxFixtures.Bytes(OnnxFixtures.TinyHeadless());
        var prepared = BackboneGraph.Prepare(bytes, Tiny());
        var raw = RandomPixels(3, 32, 32, seed: 5);

        var (values, shape) = RunPrepared(prepared, raw, 3);
        var reference = RunOriginalTensor(bytes, OnnxFixtures.InputName, OnnxFixtures.HeadlessOutput,
            Normalise(raw, 3, 32, 32, Tiny().Mean, Tiny().Std), [3, 3, 32, 32]);

        Assert.That(shape, Is.EqualTo(new[] { 3, 8 }));
        Assert.That(MaxAbsDiff(values, reference), Is.LessThan(1e-5));
        Assert.That(prepared.Feature.HeadlessOutput, Is.True);
        var stamp = OnnxModelIO.Parse(prepared.OnnxBytes).MetadataProps.Single(p => p.Key == BackboneGraph.MetadataKey).Value;
        Assert.That(stamp, Does.Contain("Flatten('embedding')").And.Contain("headless backbone, no classifier"));
    }

    [Test]
    public void Inspect_SaysTheBackboneIsHeadless_InTheLibraryAndTheCli()
    {
        var file = WriteHeadless();
        var summary = BackboneGraph.Inspect(File.ReadAllBytes(file), file);
        Assert.That(summary.Feature!.HeadlessOutput, Is.True);
        Assert.That(summary.DetectionError, Is.Null);

        var cli = CliRunner.Run(["backbones", "inspect", file], environment: CliRunner.Isolated(Path.Combine(_dir, "home")));
        Assert.That(cli.ExitCode, Is.EqualTo(0), cli.ToString());
        Assert.That(cli.StdOut, Does.Contain("features   'embedding' (8 features, the graph's own output: headless backbone, no classifier, flattened)"));
    }

    [Test]
    public void Train_SavesAZipThatReloadsWithTheSameScores()
    {
        var file = WriteHeadless();
        var log = new List<string>();
        using var model = TransferLearner.Train(Samples, new TransferLearningOptions
        {
            Backbone = new() { Name = file, Adjust = d => d with { InputWidth = 32, InputHeight = 32 }, AllowDownload = false },
            Cache = new() { WorkspacePath = Path.Combine(_dir, "ws") },
            Log = log.Add,
        });
        Assert.That(model.Metadata.FeatureSize, Is.EqualTo(8));
        Assert.That(model.Metadata.Backbone.FeatureTensor, Is.EqualTo(OnnxFixtures.HeadlessOutput));
        Assert.That(log, Has.Some.Contains("headless backbone, no classifier"));
        var images = Directory.GetFiles(Samples, "*.jpg", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Where((_, i) => i % 20 == 0).ToList();
        RealBackboneRuns.SaveReloadAndCompare(model, Path.Combine(_dir, "headless.zip"), images);
    }

    [Test]
    public void Estimator_TrainsOnAHeadlessBackbone_AndTheFusedExportMatchesTheZip()
    {
        // 224 px so the estimator's default description for a custom file (224×224, ImageNet mean/std) fits.
        var file = WriteHeadless(size: 224);
        var ml = new MLContext(1);
        var (train, test) = ImageClassificationEstimatorTests.Subset(6, 2);
        var options = ImageClassificationEstimatorTests.BaseOptions(Path.Combine(_dir, "ws")) with { Backbone = new() { Name = file, Dirs = [] }, Epoch = 10 };
        var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.TransferImageClassification(options))
            .Fit(ml.Data.LoadFromEnumerable(train));
        var zip = Path.Combine(_dir, "estimator.zip");
        ml.Model.Save(model, null, zip);

        var fresh = new MLContext();
        var data = fresh.Data.LoadFromEnumerable(test);
        var zipScores = fresh.Model.Load(zip, out _).Transform(data).GetColumn<float[]>("Score").ToArray();
        var size = 224 * ImageClassificationEstimator.SupersampleFactor;
        var pixels = fresh.Transforms.LoadImages("img", ImageClassificationEstimatorTests.Flowers, "ImagePath")
            .Append(fresh.Transforms.ResizeImages("img", size, size, "img", ImageResizingEstimator.ResizingKind.Fill))
            .Append(fresh.Transforms.ExtractPixels("px", "img", interleavePixelColors: false))
            .Fit(data).Transform(data).GetColumn<float[]>("px").ToArray();
        var fused = FusedOnnxExporter.Export(zip);
        using var session = new InferenceSession(fused);
        Assert.That(zipScores, Has.Length.EqualTo(10));
        for (var i = 0; i < zipScores.Length; i++)
        {
            using var results = session.Run([NamedOnnxValue.CreateFromTensor(PreparedBackbone.InputName, new DenseTensor<float>(pixels[i], [1, 3, size, size]))]);
            var onnx = results.Single(r => r.Name == FusedOnnxExporter.OutputName).AsEnumerable<float>().ToArray();
            Assert.That(onnx, Is.EqualTo(zipScores[i]).Within(1e-5f), $"image {i}");
        }
    }

    [Test]
    public void FineTune_TrainsThroughAWholeMapAveragePool()
    {
        var file = WriteHeadless();
        using var result = FineTuner.Run(Samples, new FineTuningOptions
        {
            Transfer = new TransferLearningOptions
            {
                Backbone = new() { Name = file, Adjust = d => d with { InputWidth = 32, InputHeight = 32 }, AllowDownload = false },
                Cache = new() { WorkspacePath = Path.Combine(_dir, "ws") },
            },
            Unfreeze = 2,
            MaxEpochs = 1,
        });
        Assert.That(result.Report.Cut.Nodes, Does.Contain("pool"));
        Assert.That(result.Report.Cut.ConvLayers, Is.EqualTo(2));
        var zip = Path.Combine(_dir, "finetuned.zip");
        result.Model.Save(zip);
        using var classifier = ImageClassifier.Load(zip);
        Assert.That(classifier.Predict(Directory.GetFiles(Path.Combine(Samples, "fruit"))[0]).Probabilities, Has.Count.EqualTo(4));
    }
}
