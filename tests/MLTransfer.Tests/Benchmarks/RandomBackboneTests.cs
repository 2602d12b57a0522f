using MLTransfer.Backbones.Onnx;
using MLTransfer.Cli.Benchmarks;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;

namespace MLTransfer.Tests.Benchmarks;

public class RandomBackboneTests
{
    private static readonly byte[] Original = File.ReadAllBytes(TestPaths.SharedModel("mobilenet_v2_1.0_224.onnx"));

    private static float[] Values(TensorProto t) => t.FloatData.Count > 0 ? t.FloatData.ToArray()
        : System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray();

    [Test]
    public void EveryFloatWeight_IsReplaced_WithTheSameShapeAndScale()
    {
        var before = OnnxModelIO.Parse(Original);
        var after = OnnxModelIO.Parse(RandomBackbone.Randomize(Original, seed: 1));
        Assert.That(after.Graph.Node.Select(n => n.OpType), Is.EqualTo(before.Graph.Node.Select(n => n.OpType)));
        var pairs = before.Graph.Initializer.Zip(after.Graph.Initializer)
            .Where(p => p.First.DataType == (int)TensorProto.Types.DataType.Float && Values(p.First).Length > 16).ToList();
        Assert.That(pairs, Is.Not.Empty);
        foreach (var (a, b) in pairs)
        {
            Assert.That(b.Name, Is.EqualTo(a.Name));
            Assert.That(b.Dims, Is.EqualTo(a.Dims));
            var (va, vb) = (Values(a), Values(b));
            Assert.That(vb, Has.Length.EqualTo(va.Length));
            Assert.That(vb, Is.Not.EqualTo(va), a.Name);
            double Std(float[] v) { var m = v.Average(); return Math.Sqrt(v.Average(x => (x - m) * (x - m))); }
            Assert.That(Std(vb), Is.EqualTo(Std(va)).Within(25).Percent, a.Name);
        }
    }

    [Test]
    public void SameSeed_SameWeights_OtherSeed_OtherWeights()
    {
        var a = RandomBackbone.Randomize(Original, seed: 5);
        Assert.That(RandomBackbone.Randomize(Original, seed: 5), Is.EqualTo(a));
        Assert.That(RandomBackbone.Randomize(Original, seed: 6), Is.Not.EqualTo(a));
    }
}
