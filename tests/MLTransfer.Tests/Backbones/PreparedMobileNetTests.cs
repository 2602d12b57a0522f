using Microsoft.ML;
using Microsoft.ML.Data;
using MLTransfer.Backbones;
using MLTransfer.Images;
using NUnit.Framework;
using static MLTransfer.Tests.Backbones.BackboneTestSupport;

namespace MLTransfer.Tests.Backbones;

/// <summary>
/// The prepared real MobileNets, run through ONNX Runtime and ML.NET, against the original graphs fed
/// with the README's documented preprocessing (<c>pixel / 127.5 - 1</c>).
/// </summary>
[TestFixture]
public class PreparedMobileNetTests
{
    private static readonly string[] Images = ["cat.png", "dragonfly.png"];

    private byte[] _originalV2 = null!;
    private PreparedBackbone _preparedV2 = null!;
    private float[] _raw = null!;

    [OneTimeSetUp]
    public void PrepareMobileNetV2()
    {
        _originalV2 = ReadShared(MobileNetV2Path);
        _preparedV2 = BackboneGraph.Prepare(_originalV2, MobileNet("mobilenet_v2_1.0_224.onnx", 224, featureSize: 1280));
        _raw = Images.SelectMany(name =>
        {
            var pixels = PlanarRgb(Path.Combine(Path.GetDirectoryName(MobileNetV2Path)!, "testimages", name), out var w, out var h);
            Assert.That((w, h), Is.EqualTo((224, 224)), name);
            return pixels;
        }).ToArray();
    }

    [Test]
    public void MobileNetV2_Prepared_Describes1280Features()
    {
        Assert.That(_preparedV2.FeatureSize, Is.EqualTo(1280));
        Assert.That(_preparedV2.Feature.FeatureTensor, Is.EqualTo("features"));
        Assert.That(_preparedV2.InputLength, Is.EqualTo(3 * 224 * 224));
        Assert.That(_preparedV2.OriginalInputName, Is.EqualTo("input"));
    }

    [Test]
    public void MobileNetV2_RawPixelsThroughPreparedGraph_MatchOriginalOnScaledPixels()
    {
        var batch = Images.Length;
        var (features, shape) = RunPrepared(_preparedV2, _raw, batch);
        var scaled = _raw.Select(p => p / 127.5f - 1f).ToArray();
        var expected = RunOriginalTensor(_originalV2, "input", "features", scaled, [batch, 3, 224, 224]);

        var diff = MaxAbsDiff(features, expected);
        TestContext.Out.WriteLine($"max |prepared - original| = {diff:G3}");
        Assert.That(shape, Is.EqualTo(new[] { batch, 1280 }));
        Assert.That(diff, Is.LessThan(1e-4));
        // Post-ReLU6 embedding, about 0..5 on these images per the README: catches e.g. a missing /255.
        Assert.That(features.Min(), Is.GreaterThanOrEqualTo(0f));
        Assert.That(features.Max(), Is.InRange(1f, 6f));
        // Two different images must give different embeddings.
        Assert.That(MaxAbsDiff(features[..1280], features[1280..]), Is.GreaterThan(0.5));
    }

    [Test]
    public void MobileNetV2_PreparedThroughMlNet_MatchesOnnxRuntime()
    {
        var (ortFeatures, _) = RunPrepared(_preparedV2, _raw, Images.Length);
        var ml = new MLContext(seed: 1);
        var rows = Enumerable.Range(0, Images.Length)
            .Select(i => new PixelRow { Pixels = _raw[(i * 150528)..((i + 1) * 150528)] })
            .ToList();
        var data = ml.Data.LoadFromEnumerable(rows);

        using var modelStream = new MemoryStream(_preparedV2.OnnxBytes);
        var pipeline = ml.Transforms.ApplyOnnxModel(
            outputColumnNames: [PreparedBackbone.OutputName],
            inputColumnNames: [PreparedBackbone.InputName],
            modelBytes: modelStream);
        var transformer = pipeline.Fit(data);
        List<FeatureRow> features;
        try
        {
            features = ml.Data.CreateEnumerable<FeatureRow>(transformer.Transform(data), reuseRowObject: false).ToList();
        }
        finally
        {
            (transformer as IDisposable)?.Dispose(); // releases the ONNX Runtime session
        }

        Assert.That(features, Has.Count.EqualTo(Images.Length));
        for (var i = 0; i < Images.Length; i++)
        {
            Assert.That(features[i].Features, Has.Length.EqualTo(1280));
            var diff = MaxAbsDiff(features[i].Features, ortFeatures[(i * 1280)..((i + 1) * 1280)]);
            TestContext.Out.WriteLine($"{Images[i]}: max |ML.NET - ORT| = {diff:G3}");
            Assert.That(diff, Is.LessThan(1e-5), Images[i]);
        }
    }

    [Test]
    public void MobileNetV1_PreparedAt192_Gives768Features_MatchingOriginal()
    {
        var original = ReadShared(MobileNetV1Path);
        var prepared = BackboneGraph.Prepare(original, MobileNet("mobilenet_v1_0.75_192.onnx", 192));
        var raw = RandomPixels(2, 192, 192, seed: 3);

        var (features, shape) = RunPrepared(prepared, raw, 2);
        var expected = RunOriginalTensor(original, "input", "features", raw.Select(p => p / 127.5f - 1f).ToArray(), [2, 3, 192, 192]);

        Assert.That(prepared.FeatureSize, Is.EqualTo(768));
        Assert.That(shape, Is.EqualTo(new[] { 2, 768 }));
        Assert.That(MaxAbsDiff(features, expected), Is.LessThan(1e-4));
    }

    [Test]
    public void MobileNetV1_WithMobileNetV2Description_IsAMismatchedBackbone()
    {
        var ex = Assert.Throws<MLTransferException>(() =>
            BackboneGraph.Prepare(ReadShared(MobileNetV1Path), MobileNet("mobilenet_v2_1.0_224.onnx", 224)));

        Assert.That(ex!.Message, Does.Contain("[N,3,192,192]").And.Contain("[N,3,224,224]"));
    }

    [Test]
    public void Inspect_MobileNetV2_ShowsShapesFeatureAndGuessedPreprocessing()
    {
        var summary = BackboneGraph.Inspect(ReadShared(MobileNetV2Path), MobileNetV2Path);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(summary.Inputs.Select(i => i.ToString()), Is.EqualTo(new[] { "input: float32 [N,3,224,224]" }));
            Assert.That(summary.Outputs.Select(o => o.ToString()), Is.EqualTo(new[] { "logits: float32 [N,1001]" }));
            Assert.That(summary.Opset, Is.EqualTo(13));
            Assert.That(summary.IrVersion, Is.EqualTo(7));
            Assert.That(summary.NodeCount, Is.EqualTo(100));
            Assert.That(summary.ParameterCount, Is.EqualTo(3_489_099));
            Assert.That(summary.Feature, Is.EqualTo(new FeatureTensorInfo("features", "classifier", "Gemm", 1280, false)));
            Assert.That(summary.DetectionError, Is.Null);
            Assert.That(summary.Metadata["feature_tensor"], Does.StartWith("features"));
            Assert.That(summary.Preprocessing, Is.Not.Null);
            Assert.That(summary.Preprocessing!.Mean, Is.EqualTo(new[] { 0.5f, 0.5f, 0.5f }));
            Assert.That(summary.Preprocessing.Std, Is.EqualTo(new[] { 0.5f, 0.5f, 0.5f }));
            Assert.That(summary.Preprocessing.ChannelOrder, Is.EqualTo(ChannelOrder.Rgb));
            Assert.That(summary.Preprocessing.Evidence, Does.StartWith("input = "));
        }
    }

    [TestCase("x = pixel / 127.5 - 1", 0.5f, 0.5f)]
    [TestCase("scaled as pixel/255", 0f, 1f)]
    [TestCase("BGR, mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]", 0.485f, 0.229f)]
    [TestCase("mean: 0.485, 0.456, 0.406; std: 0.229, 0.224, 0.225", 0.485f, 0.229f)]
    public void GuessPreprocessing_ReadsCommonForms(string text, float mean0, float std0)
    {
        var guess = BackboneGraph.GuessPreprocessing([("preprocess", text)]);

        Assert.That(guess, Is.Not.Null);
        Assert.That(guess!.Mean[0], Is.EqualTo(mean0).Within(1e-6));
        Assert.That(guess.Std[0], Is.EqualTo(std0).Within(1e-6));
    }

    [Test]
    public void GuessPreprocessing_WithoutNormalisation_IsNull() =>
        Assert.That(BackboneGraph.GuessPreprocessing([("author", "someone"), ("labels", "index 0 = background")]), Is.Null);

    private sealed class PixelRow
    {
        [ColumnName(PreparedBackbone.InputName)]
        [VectorType(3, 224, 224)]
        public float[] Pixels { get; set; } = [];
    }

    private sealed class FeatureRow
    {
        [ColumnName(PreparedBackbone.OutputName)]
        public float[] Features { get; set; } = [];
    }
}
