using MLTransfer.Backbones;
using MLTransfer.Backbones.Catalog;
using MLTransfer.Backbones.Onnx;
using MLTransfer.Features;
using MLTransfer.FineTuning;
using MLTransfer.Images;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;

namespace MLTransfer.Tests.FineTuning;

/// <summary>
/// The ONNX side: where the cut goes, that the imported layers compute exactly what ONNX Runtime computes,
/// and that trained weights written back into the graph are what ONNX Runtime then runs.
/// </summary>
[TestFixture]
public class OnnxBlockTests
{
    private static readonly BackboneDescription TinyDescription = new()
    {
        Name = "tiny-resnet",
        FileName = "tiny.onnx",
        InputWidth = 32,
        InputHeight = 32,
    };

    private static PreparedBackbone Tiny() => BackboneGraph.Prepare(OnnxFixtures.Bytes(OnnxFixtures.TinyResNet()), TinyDescription);

    private static PreparedBackbone MobileNet() => BackboneGraph.Prepare(TestPaths.SharedModel("mobilenet_v2_1.0_224.onnx"),
        new BackboneDescription { Name = "mobilenet-v2", FileName = "mobilenet_v2_1.0_224.onnx" });

    private static CutPlan Plan(PreparedBackbone p, int n) =>
        OnnxBlock.Plan(OnnxModelIO.Parse(p.OnnxBytes), n, PreparedBackbone.OutputName, "test");

    [TestCase(1, "MobilenetV2/expanded_conv_16/project", 1)]
    [TestCase(3, "MobilenetV2/expanded_conv_16/expand", 3)]
    [TestCase(4, "MobilenetV2/expanded_conv_15/add", 4)]
    [TestCase(5, "MobilenetV2/expanded_conv_14/add", 7)] // conv 5 sits inside a residual block: the whole block is taken
    [TestCase(7, "MobilenetV2/expanded_conv_14/add", 7)]
    public void MobileNetV2_CutFollowsTheDefinition(int unfreeze, string cut, int convs)
    {
        var plan = Plan(MobileNet(), unfreeze);
        Assert.That(plan.CutTensor, Is.EqualTo(cut));
        Assert.That(plan.ConvLayers, Is.EqualTo(convs));
        Assert.That(plan.Nodes[^1], Is.EqualTo("mltransfer_flatten"));
    }

    [Test]
    public void TinyResNet_CutNeverSplitsTheResidualBlock()
    {
        var tiny = Tiny();
        var one = Plan(tiny, 1);
        Assert.That((one.CutTensor, one.ConvLayers), Is.EqualTo(("stem_act", 2)), "block_conv2's input is bypassed by the skip; the block input is the cut");
        var three = Plan(tiny, 3);
        Assert.That((three.CutTensor, three.ConvLayers), Is.EqualTo((OnnxFixtures.InputName, 3)), "all convs: the cut is the normalised image");
    }

    [TestCase(0)]
    [TestCase(4)]
    public void UnfreezingMoreConvsThanExist_IsAnActionableError(int n)
    {
        var ex = Assert.Throws<MLTransferException>(() => Plan(Tiny(), n));
        Assert.That(ex!.Message, Does.Contain("has 3"));
        Assert.That(ex.Fix, Does.Contain("between 1 and 3"));
    }

    [Test]
    public void UnsupportedOperatorAboveTheCut_IsNamed()
    {
        // An operator the engine has no backward pass for, just below the feature tensor.
        var model = OnnxFixtures.TinyResNet(TinyHead.MatMulAdd);
        var pool = model.Graph.Node.First(n => n.Name == "pool");
        pool.OpType = "GlobalMaxPool";
        var prepared = BackboneGraph.Prepare(OnnxFixtures.Bytes(model), TinyDescription);
        var graph = OnnxModelIO.Parse(prepared.OnnxBytes);
        var plan = OnnxBlock.Plan(graph, 1, PreparedBackbone.OutputName, "test");
        var ex = Assert.Throws<MLTransferException>(() => OnnxBlock.Import(graph, plan, "test"));
        Assert.That(ex!.Message, Does.Contain("GlobalMaxPool"));
    }

    [TestCase(1)]
    [TestCase(3)]
    public void TinyResNet_FrozenPartPlusEngine_EqualsOnnxRuntime(int unfreeze)
    {
        var tiny = Tiny();
        var pixels = RandomPixels(new Random(unfreeze), 3, tiny.InputLength);
        AssertEngineMatchesOrt(tiny, unfreeze, pixels, 3, tolerance: 1e-4f);
    }

    [Test]
    public void MobileNetV2_FrozenPartPlusEngine_EqualsOnnxRuntime_OnRealImages()
    {
        var mobile = MobileNet();
        var images = Directory.GetFiles(TestPaths.SharedModel("testimages"), "*.png").Order(StringComparer.Ordinal).Take(2).ToArray();
        var pixels = new float[images.Length * mobile.InputLength];
        for (var i = 0; i < images.Length; i++)
        {
            var buffer = new float[mobile.InputLength];
            MLTransfer.Images.ImageDecoder.DecodeFile(images[i], 224, 224, ResizeMode.Fill).WritePlanes(buffer, false);
            buffer.CopyTo(pixels, i * mobile.InputLength);
        }
        // Features are ReLU6 averages in 0..6: an absolute 1e-4 is float round-off, not a different result.
        AssertEngineMatchesOrt(mobile, 5, pixels, images.Length, tolerance: 1e-4f);
    }

    [Test]
    public void ResNet50_LastBottleneck_IsTheCut_AndFrozenPartPlusEngine_EqualsOnnxRuntime_OnRealImages()
    {
        var resnet = BackboneGraph.Prepare(TestPaths.SharedModel(BuiltInBackbones.ResNet50.FileName), BuiltInBackbones.ResNet50);
        // One conv of the last bottleneck sits behind its skip connection: the whole block (three convs) is taken.
        foreach (var unfreeze in new[] { 1, 3 })
        {
            var plan = Plan(resnet, unfreeze);
            Assert.That(plan.ConvLayers, Is.EqualTo(3), $"unfreeze {unfreeze}");
            Assert.That(plan.Nodes.Count(n => n.Contains("Add", StringComparison.Ordinal)), Is.GreaterThanOrEqualTo(1), "the block's Add is above the cut");
        }
        var images = Directory.GetFiles(TestPaths.SharedModel("testimages"), "*.png").Order(StringComparer.Ordinal).Take(2).ToArray();
        var pixels = new float[images.Length * resnet.InputLength];
        for (var i = 0; i < images.Length; i++)
        {
            var buffer = new float[resnet.InputLength];
            ImageDecoder.DecodeFile(images[i], 224, 224, resnet.Description.ResizeMode).WritePlanes(buffer, resnet.ChannelOrder == ChannelOrder.Bgr);
            buffer.CopyTo(pixels, i * resnet.InputLength);
        }
        // Features are averages of unbounded ReLU outputs (up to about 10 here): 1e-3 absolute is float round-off.
        AssertEngineMatchesOrt(resnet, 3, pixels, images.Length, tolerance: 1e-3f);
    }

    [Test]
    public void WrittenBackWeights_AreWhatOnnxRuntimeRuns_AndFrozenWeightsStayByteIdentical()
    {
        var tiny = Tiny();
        var graph = OnnxModelIO.Parse(tiny.OnnxBytes);
        var plan = OnnxBlock.Plan(graph, 1, PreparedBackbone.OutputName, "test");
        var network = OnnxBlock.Import(graph, plan, "test");
        var rng = new Random(5);
        foreach (var p in network.TrainableParameters)
            for (var i = 0; i < p.Length; i++)
                p.Value[i] += (float)(rng.NextDouble() - 0.5) * 0.2f;

        var tuned = tiny with { OnnxBytes = OnnxBlock.WriteBack(tiny.OnnxBytes, network, "test", "test") };
        var pixels = RandomPixels(new Random(6), 2, tiny.InputLength);
        var (cut, shape) = CutActivations(tiny, plan, pixels, 2);
        var engine = new MLTransfer.FineTuning.BackboneCut(plan, network, tiny, shape).Features(cut);
        using var session = new BackboneSession(tuned);
        var ort = session.Run(pixels, 2);
        using var original = new BackboneSession(tiny);
        Assert.That(ort[0], Is.Not.EqualTo(original.Run(pixels, 2)[0]).Within(1e-3f), "the written-back weights change the output");
        for (var i = 0; i < 2; i++)
            Assert.That(ort[i], Is.EqualTo(engine[i]).Within(1e-4f));

        var before = OnnxModelIO.Parse(tiny.OnnxBytes).Graph.Initializer.ToDictionary(t => t.Name);
        var after = OnnxModelIO.Parse(tuned.OnnxBytes).Graph.Initializer.ToDictionary(t => t.Name);
        var trained = network.TrainableParameters.Select(p => p.Name).ToHashSet();
        Assert.That(trained, Is.EquivalentTo(new[] { "block_conv1.weight", "block_conv1.bias", "block_conv2.weight", "block_conv2.bias" }));
        foreach (var (name, tensor) in before.Where(kv => !trained.Contains(kv.Key)))
            Assert.That(after[name], Is.EqualTo(tensor), $"frozen initializer {name} is untouched");
    }

    [Test]
    public void TinyResNet_NetworkGradients_MatchFiniteDifferences_ThroughTheSkipConnection()
    {
        var tiny = BackboneGraph.Prepare(OnnxFixtures.Bytes(OnnxFixtures.TinyResNet(width: 4, size: 6)), TinyDescription with { InputWidth = 6, InputHeight = 6 });
        var graph = OnnxModelIO.Parse(tiny.OnnxBytes);
        var network = OnnxBlock.Import(graph, OnnxBlock.Plan(graph, 3, PreparedBackbone.OutputName, "test"), "test");
        var rng = new Random(21);
        var x = GradientCheck.Random(rng, 3, 2, 6, 6);
        var r = GradientCheck.Random(rng, 4, 2, 1, 1);
        double Loss()
        {
            var y = network.Forward(x);
            return y.Data.Select((v, i) => (double)v * r.Data[i]).Sum();
        }
        network.ZeroGrad();
        var dx = network.Backward(network.ForwardWithTape(x), r, wantInputGradient: true);
        GradientCheck.Compare("input", x.Data, dx!.Data, Loss, 1e-4f, 2e-3, rng);
        foreach (var p in network.Parameters)
            // A tiny step: some pre-activations lie within 1e-3 of a ReLU kink, where larger steps measure the kink.
            GradientCheck.Compare(p.Name, p.Value, p.Grad, Loss, 1e-4f, 2e-3, rng);
    }

    private static void AssertEngineMatchesOrt(PreparedBackbone prepared, int unfreeze, float[] pixels, int count, float tolerance)
    {
        var graph = OnnxModelIO.Parse(prepared.OnnxBytes);
        var plan = OnnxBlock.Plan(graph, unfreeze, PreparedBackbone.OutputName, "test");
        var network = OnnxBlock.Import(graph, plan, "test");
        var (cut, shape) = CutActivations(prepared, plan, pixels, count);
        var engine = new MLTransfer.FineTuning.BackboneCut(plan, network, prepared, shape).Features(cut);
        using var session = new BackboneSession(prepared);
        var ort = session.Run(pixels, count);
        for (var i = 0; i < count; i++)
        {
            Assert.That(engine[i], Has.Length.EqualTo(prepared.FeatureSize));
            Assert.That(engine[i], Is.EqualTo(ort[i]).Within(tolerance), $"image {i}");
        }
        Assert.That(ort[0].Max(), Is.GreaterThan(0.01f), "features are not trivially zero");
    }

    private static (List<float[]> Cut, int[] Shape) CutActivations(PreparedBackbone prepared, CutPlan plan, float[] pixels, int count)
    {
        var (bytes, shape) = OnnxBlock.FrozenGraph(prepared, plan.CutTensor, "test");
        using var session = new BackboneSession(prepared with { OnnxBytes = bytes, FeatureSize = shape.Aggregate(1, (a, b) => a * b) });
        return (session.Run(pixels, count).ToList(), shape);
    }

    private static float[] RandomPixels(Random rng, int count, int length) =>
        Enumerable.Range(0, count * length).Select(_ => (float)rng.Next(256)).ToArray();
}
