using MLTransfer.FineTuning;
using NUnit.Framework;

namespace MLTransfer.Tests.FineTuning;

/// <summary>Every layer's backward pass against finite differences, on tiny tensors.</summary>
[TestFixture]
public class LayerGradientTests
{
    private static ConvLayer Conv(Random rng, int cin, int cout, int k, int group, int[]? strides = null, int[]? pads = null, int[]? dilations = null, bool bias = true) =>
        new("conv", "x", "y", GradientCheck.Param(rng, "w", [cout, cin / group, k, k]), bias ? GradientCheck.Param(rng, "b", [cout]) : null, group,
            strides ?? [1, 1], dilations ?? [1, 1], pads ?? [0, 0, 0, 0]);

    [Test]
    public void Conv_Dense3x3_Padded()
    {
        var rng = new Random(1);
        GradientCheck.Check(Conv(rng, 3, 4, 3, 1, pads: [1, 1, 1, 1]), [GradientCheck.Random(rng, 3, 2, 5, 5)]);
    }

    [Test]
    public void Conv_Depthwise3x3()
    {
        var rng = new Random(2);
        GradientCheck.Check(Conv(rng, 6, 6, 3, 6, pads: [1, 1, 1, 1]), [GradientCheck.Random(rng, 6, 2, 5, 5)]);
    }

    [Test]
    public void Conv_Grouped_WithChannelMultiplier()
    {
        var rng = new Random(3);
        GradientCheck.Check(Conv(rng, 4, 6, 3, 2, pads: [1, 0, 1, 0]), [GradientCheck.Random(rng, 4, 2, 5, 4)]);
    }

    [Test]
    public void Conv_Strided_AsymmetricPadding_AsTensorFlowSame()
    {
        var rng = new Random(4);
        // MobileNet's stride-2 depthwise convs pad only bottom/right.
        var layer = Conv(rng, 4, 4, 3, 4, strides: [2, 2], pads: [0, 0, 1, 1]);
        var x = GradientCheck.Random(rng, 4, 2, 6, 6);
        Assert.That(layer.Forward([x]), Has.Property("H").EqualTo(3).And.Property("W").EqualTo(3));
        GradientCheck.Check(layer, [x]);
    }

    [Test]
    public void Conv_Dilated_NoBias()
    {
        var rng = new Random(5);
        GradientCheck.Check(Conv(rng, 2, 3, 3, 1, pads: [2, 2, 2, 2], dilations: [2, 2], bias: false), [GradientCheck.Random(rng, 2, 1, 5, 5)]);
    }

    [Test]
    public void Conv_Pointwise1x1()
    {
        var rng = new Random(6);
        GradientCheck.Check(Conv(rng, 5, 3, 1, 1), [GradientCheck.Random(rng, 5, 3, 2, 2)]);
    }

    [Test]
    public void Conv_Forward_MatchesADirectLoop()
    {
        var rng = new Random(7);
        var layer = Conv(rng, 4, 4, 3, 2, strides: [2, 1], pads: [1, 0, 0, 1]);
        var x = GradientCheck.Random(rng, 4, 2, 5, 5);
        var y = layer.Forward([x]);
        var w = layer.Weight.Value;
        for (var n = 0; n < 2; n++)
            for (var o = 0; o < 4; o++)
                for (var oy = 0; oy < y.H; oy++)
                    for (var ox = 0; ox < y.W; ox++)
                    {
                        double sum = layer.Bias!.Value[o];
                        var g = o / 2;
                        for (var ci = 0; ci < 2; ci++)
                            for (var ky = 0; ky < 3; ky++)
                                for (var kx = 0; kx < 3; kx++)
                                {
                                    int iy = oy * 2 - 1 + ky, ix = ox - 0 + kx;
                                    if (iy < 0 || iy >= 5 || ix < 0 || ix >= 5) continue;
                                    sum += w[((o * 2 + ci) * 3 + ky) * 3 + kx] * x.Data[((g * 2 + ci) * 2 + n) * 25 + iy * 5 + ix];
                                }
                        Assert.That(y.Data[(o * 2 + n) * y.Plane + oy * y.W + ox], Is.EqualTo(sum).Within(1e-5));
                    }
    }

    [Test]
    public void Clip_Relu6()
    {
        var rng = new Random(8);
        GradientCheck.Check(new ClipLayer("clip", "Clip", "x", "y", 0, 6), [GradientCheck.Random(rng, 3, 2, 3, 3, 8, 0.05f, 0, 6)]);
    }

    [Test]
    public void Relu()
    {
        var rng = new Random(9);
        GradientCheck.Check(new ClipLayer("relu", "Relu", "x", "y", 0, float.PositiveInfinity), [GradientCheck.Random(rng, 3, 2, 3, 3, 1, 0.05f, 0)]);
    }

    [Test]
    public void Add_Residual()
    {
        var rng = new Random(10);
        GradientCheck.Check(new AddLayer("add", "a", "b", "y"), [GradientCheck.Random(rng, 3, 2, 3, 3), GradientCheck.Random(rng, 3, 2, 3, 3)]);
    }

    [Test]
    public void GlobalAveragePool()
    {
        var rng = new Random(11);
        GradientCheck.Check(new GlobalAveragePoolLayer("gap", "x", "y"), [GradientCheck.Random(rng, 4, 3, 3, 2)]);
    }

    [Test]
    public void WholeMapAveragePool_IsAGlobalPool_AndRefusesASmallerKernel()
    {
        var rng = new Random(11);
        var x = GradientCheck.Random(rng, 4, 3, 3, 2);
        var pool = new GlobalAveragePoolLayer("avg", "x", "y", (3, 2));
        GradientCheck.Check(pool, [x]);
        Assert.That(pool.Forward([x]).Data, Is.EqualTo(new GlobalAveragePoolLayer("gap", "x", "y").Forward([x]).Data));

        var ex = Assert.Throws<MLTransferException>(() => new GlobalAveragePoolLayer("avg", "x", "y", (2, 2)).Forward([x]));
        Assert.That(ex!.Message, Does.Contain("AveragePool").And.Contain("2×2 kernel does not cover its 3×2 input"));
    }

    [Test]
    public void Flatten_OfASpatialMap_KeepsNchwOrder()
    {
        var rng = new Random(12);
        var layer = new FlattenLayer("flatten", "x", "y");
        var x = GradientCheck.Random(rng, 2, 3, 2, 2);
        var y = layer.Forward([x]);
        // Image 1, channel 1, position (1,0) is feature 1·4 + 2 of image 1.
        Assert.That(y.Data[(1 * 4 + 2) * 3 + 1], Is.EqualTo(x.Data[(1 * 3 + 1) * 4 + 2]));
        GradientCheck.Check(layer, [x]);
    }

    [Test]
    public void Gemm_TransB()
    {
        var rng = new Random(13);
        GradientCheck.Check(new GemmLayer("fc", "x", "y", GradientCheck.Param(rng, "w", [3, 5]), GradientCheck.Param(rng, "b", [3]), 0.5f, 2f),
            [GradientCheck.Random(rng, 5, 4, 1, 1)]);
    }

    [Test]
    public void Gemm_WeightStoredInOnnxOrder_IsTransposedAndBack()
    {
        var rng = new Random(14);
        var onnx = Enumerable.Range(0, 10).Select(i => (float)i).ToArray(); // [in=5, out=2]
        var weight = new Parameter("w", [5, 2], Parameter.Transpose(onnx, 5, 2), transposed: true);
        Assert.That(weight.OnnxValue(), Is.EqualTo(onnx));
        var layer = new GemmLayer("fc", "x", "y", weight, null, 1f, 1f);
        Assert.That((layer.In, layer.Out), Is.EqualTo((5, 2)));
        var x = GradientCheck.Random(rng, 5, 1, 1, 1);
        var y = layer.Forward([x]);
        var expected0 = Enumerable.Range(0, 5).Sum(k => (double)x.Data[k] * onnx[k * 2]);
        Assert.That(y.Data[0], Is.EqualTo(expected0).Within(1e-4));
        GradientCheck.Check(layer, [x]);
    }

    [Test]
    public void BatchNormalization_InferenceForm()
    {
        var rng = new Random(15);
        var layer = new BatchNormLayer("bn", "x", "y", GradientCheck.Param(rng, "s", [3]), GradientCheck.Param(rng, "b", [3]),
            [0.1f, -0.2f, 0.3f], [0.5f, 1.5f, 2f], 1e-3f);
        GradientCheck.Check(layer, [GradientCheck.Random(rng, 3, 2, 2, 2)]);
    }

    [Test]
    public void SoftmaxCrossEntropyHead_WithNormalisation()
    {
        var rng = new Random(16);
        var head = new SoftmaxHead(6, 3);
        for (var i = 0; i < head.Weight.Length; i++)
            head.Weight.Value[i] = (float)(rng.NextDouble() * 4 - 2);
        head.Bias.Value[1] = 0.3f;
        var x = GradientCheck.Random(rng, 6, 4, 1, 1, scale: 3);
        int[] labels = [0, 2, 1, 2];
        const float l2 = 0.05f;
        double Loss()
        {
            var decay = 0.5 * l2 * head.Weight.Value.Sum(w => (double)w * w);
            return head.Run(x, labels, l2, backward: false).Loss + decay;
        }
        head.Weight.ZeroGrad();
        head.Bias.ZeroGrad();
        var (_, _, grad) = head.Run(x, labels, l2, backward: true);
        GradientCheck.Compare("features", x.Data, grad!.Data, Loss, 1e-3f, 2e-3, rng);
        GradientCheck.Compare("weight", head.Weight.Value, head.Weight.Grad, Loss, 1e-3f, 2e-3, rng);
        GradientCheck.Compare("bias", head.Bias.Value, head.Bias.Grad, Loss, 1e-3f, 2e-3, rng);
    }

    [Test]
    public void Check_FailsOnAWrongGradient()
    {
        // The harness itself must be able to fail: a layer whose backward is off by a factor of 2.
        var rng = new Random(17);
        var layer = new DoubledGradientAdd();
        Assert.Throws<AssertionException>(() => GradientCheck.Check(layer, [GradientCheck.Random(rng, 2, 2, 2, 2), GradientCheck.Random(rng, 2, 2, 2, 2)]));
    }

    private sealed class DoubledGradientAdd : Layer
    {
        private readonly AddLayer _inner = new("add", "a", "b", "y");
        public DoubledGradientAdd() : base("bad", "Add", ["a", "b"], "y") { }
        public override Act Forward(IReadOnlyList<Act> inputs) => _inner.Forward(inputs);
        public override void Backward(IReadOnlyList<Act> inputs, Act output, Act gradOutput, IReadOnlyList<Act?> gradInputs)
        {
            _inner.Backward(inputs, output, gradOutput, gradInputs);
            _inner.Backward(inputs, output, gradOutput, gradInputs);
        }
    }
}
