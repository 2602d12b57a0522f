using MLTransfer.Backbones.Onnx;
using MLTransfer.Features;
using MLTransfer.FeatureStore;
using MLTransfer.Images;
using MLTransfer.Inference;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Training;
using NUnit.Framework;

namespace MLTransfer.Tests.FeatureStore;

/// <summary>The int8 path on the tiny backbone: the QDQ graph, its check against float, and extraction and training with it.</summary>
[TestFixture]
public class Int8Tests
{
    private string _root = null!;
    private string _data = null!;
    private string _backbone = null!;

    [OneTimeSetUp]
    public void MakeData()
    {
        _root = Directory.CreateTempSubdirectory("mlt-int8-").FullName;
        _data = Path.Combine(_root, "data");
        foreach (var (label, k) in new[] { ("red", 0), ("blue", 1), ("green", 2) })
            TinyImages.WriteClass(Path.Combine(_data, label), label, k, 14);
        _backbone = TinyImages.WriteBackbone(Path.Combine(_root, "backbone"));
        Int8Quantization.ForwardMeasureTime = TimeSpan.FromMilliseconds(50);
    }

    [OneTimeTearDown]
    public void Clean()
    {
        Int8Quantization.ForwardMeasureTime = TimeSpan.FromSeconds(3);
        Directory.Delete(_root, recursive: true);
    }

    [Test]
    public void TheQuantizedGraph_HasInt8Weights_AndGivesFeaturesCloseToFloat()
    {
        var prepared = TinyImages.PreparedBackbone();
        var images = Directory.EnumerateFiles(_data, "*.png", SearchOption.AllDirectories).Order().ToList();
        var ranges = Int8Backbone.Calibrate(prepared, images, ImageDecodeOptions.Default, _ => { }, default);
        var int8 = Int8Backbone.Quantize(prepared, ranges, new Int8Record(new string('a', 64), "p", images.Count, null, null));
        Assert.That(int8.Precision, Does.StartWith("int8:"));

        var model = OnnxModelIO.Parse(int8.OnnxBytes);
        var convs = model.Graph.Node.Where(n => n.OpType == "Conv").ToList();
        Assert.That(convs, Is.Not.Empty);
        var initializers = model.Graph.Initializer.ToDictionary(t => t.Name);
        var producers = model.Graph.Node.SelectMany(n => n.Output.Select(o => (o, n))).ToDictionary(x => x.o, x => x.n);
        foreach (var conv in convs)
        {
            var weight = producers[conv.Input[1]];
            Assert.That(weight.OpType, Is.EqualTo("DequantizeLinear"));
            Assert.That(initializers[weight.Input[0]].DataType, Is.EqualTo((int)TensorProto.Types.DataType.Int8));
            Assert.That(producers[conv.Input[0]].OpType, Is.EqualTo("DequantizeLinear"));
        }

        // ONNX Runtime turns the QDQ groups into its integer kernels: its optimized graph runs QLinearConv.
        var optimized = Path.Combine(_root, "optimized.onnx");
        using (var options = new Microsoft.ML.OnnxRuntime.SessionOptions { GraphOptimizationLevel = Microsoft.ML.OnnxRuntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, OptimizedModelFilePath = optimized })
        using (new Microsoft.ML.OnnxRuntime.InferenceSession(int8.OnnxBytes, options)) { }
        var ops = OnnxModelIO.Load(optimized).Graph.Node.Select(n => n.OpType).ToList();
        Assert.That(ops, Does.Contain("QLinearConv"));
        Assert.That(ops, Does.Not.Contain("Conv"), "every convolution runs in int8");

        using var floatSession = new BackboneSession(prepared);
        using var int8Session = new BackboneSession(int8);
        var floats = FeatureExtractor.Extract(images, floatSession).Features;
        var ints = FeatureExtractor.Extract(images, int8Session).Features;
        for (var i = 0; i < images.Count; i++)
        {
            var (a, b) = (floats[i]!, ints[i]!);
            var norm = Math.Sqrt(a.Sum(v => (double)v * v));
            var error = Math.Sqrt(a.Zip(b, (x, y) => (double)(x - y) * (x - y)).Sum());
            Assert.That(error / norm, Is.LessThan(0.1), images[i]);
        }
    }

    [Test]
    public void Quantize_ThenExtractAndTrainWithIt_TheZipCarriesTheInt8Backbone()
    {
        var options = TinyImages.TrainingOptions(_backbone, Path.Combine(_root, "workspace"));
        var file = Path.Combine(_root, "tiny-int8.onnx");
        var check = Int8Quantization.Run(_data, file, options, calibrationImages: 20);
        Assert.That(check.Accepted, Is.True, $"float {check.FloatValidationAccuracy} int8 {check.Int8ValidationAccuracy}");
        Assert.That(File.Exists(file));

        var source = options.Backbone with { Int8Graph = file };
        var folder = Path.Combine(_root, "int8-features");
        for (var i = 0; i < 2; i++)
            FeatureShards.Extract(_data, folder, new ShardExtractionOptions { Shard = new ShardSpec(i, 2), Backbone = source });
        Assert.That(FeatureManifest.Read(folder)!.Signature.Precision, Does.StartWith("int8:"));

        var floatRun = Assert.Throws<MLTransferException>(() => TransferLearner.TrainFromFeatures(folder, options))!;
        Assert.That(floatRun.Message, Does.Contain("int8 copy").And.Contain("--int8"));

        using var model = TransferLearner.TrainFromFeatures(folder, options with { Backbone = source });
        Assert.That(model.Metadata.BackboneReason, Does.Contain("int8 copy"));
        var zip = Path.Combine(_root, "int8.zip");
        model.Save(zip);
        using var classifier = ImageClassifier.Load(zip);
        var red = Directory.EnumerateFiles(Path.Combine(_data, "red")).First();
        Assert.That(classifier.Predict(red).Label, Is.EqualTo("red"));
    }

    [Test]
    public void AnInt8CopyOfAnotherBackbone_IsRefused()
    {
        var options = TinyImages.TrainingOptions(_backbone, Path.Combine(_root, "workspace"));
        var file = Path.Combine(_root, "tiny-int8-other.onnx");
        Int8Quantization.Run(_data, file, options, calibrationImages: 10);
        var other = Path.Combine(_root, "other", "tiny_other.onnx");
        Directory.CreateDirectory(Path.GetDirectoryName(other)!);
        File.WriteAllBytes(other, OnnxFixtures.Bytes(OnnxFixtures.TinyResNet(width: 8, size: 32, seed: 4321)));
        var wrong = TinyImages.TrainingOptions(other, Path.Combine(_root, "workspace")) with { };
        wrong = wrong with { Backbone = wrong.Backbone with { Int8Graph = file } };
        var e = Assert.Throws<MLTransferException>(() => TransferLearner.Train(_data, wrong))!;
        Assert.That(e.Message, Does.Contain("made from another backbone file").And.Contain(file));
    }

    [Test]
    public void OldOpsets_AreRefusedByName()
    {
        var model = OnnxFixtures.TinyHeadless(opset: 11);
        var e = Assert.Throws<MLTransferException>(() => QdqQuantizer.Quantize(model, new Dictionary<string, TensorRange>(), "tiny.onnx"))!;
        Assert.That(e.Message, Does.Contain("opset 11").And.Contain("tiny.onnx"));
    }

    [Test]
    public void ActivationParameters_KeepZeroExact()
    {
        var (scale, zero) = QdqQuantizer.ActivationParameters(new TensorRange(-1f, 3f));
        Assert.That(scale, Is.EqualTo(4f / 255).Within(1e-7));
        Assert.That(zero, Is.EqualTo(64));
        Assert.That(QdqQuantizer.ActivationParameters(new TensorRange(0.5f, 6f)).ZeroPoint, Is.Zero, "ranges are widened to hold 0");
    }
}
