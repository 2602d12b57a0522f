using MLTransfer.FineTuning;
using NUnit.Framework;

namespace MLTransfer.Tests.FineTuning;

/// <summary>
/// Finite-difference checks: the loss is <c>Σ r ⊙ layer(x)</c> for a fixed random <c>r</c>, so the analytic
/// gradient is <c>Backward(gradOutput = r)</c> and every entry can be compared with a central difference.
/// </summary>
internal static class GradientCheck
{
    /// <summary>Random activation with values in ±scale, kept at least <paramref name="gap"/> away from the given kinks.</summary>
    public static Act Random(Random rng, int c, int n, int h, int w, float scale = 1f, float gap = 0f, params float[] kinks)
    {
        var act = new Act(c, n, h, w);
        for (var i = 0; i < act.Data.Length; i++)
        {
            float v;
            do v = (float)((rng.NextDouble() * 2 - 1) * scale);
            while (kinks.Any(k => Math.Abs(v - k) < gap));
            act.Data[i] = v;
        }
        return act;
    }

    public static Parameter Param(Random rng, string name, long[] dims, bool transposed = false)
    {
        var count = (int)dims.Aggregate(1L, (a, d) => a * d);
        return new Parameter(name, dims, Enumerable.Range(0, count).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray(), transposed);
    }

    private static double Loss(Layer layer, IReadOnlyList<Act> inputs, Act r)
    {
        var y = layer.Forward(inputs);
        double sum = 0;
        for (var i = 0; i < y.Data.Length; i++)
            sum += (double)y.Data[i] * r.Data[i];
        return sum;
    }

    /// <summary>Checks the gradients of every input and parameter of <paramref name="layer"/>.</summary>
    public static void Check(Layer layer, IReadOnlyList<Act> inputs, int seed = 11, float eps = 1e-2f, double tolerance = 2e-3)
    {
        var rng = new Random(seed);
        var y = layer.Forward(inputs);
        var r = Random(rng, y.C, y.N, y.H, y.W);
        foreach (var p in layer.Parameters)
            p.ZeroGrad();
        var gradInputs = inputs.Select(x => x.ZerosLike()).ToList();
        layer.Backward(inputs, y, r, gradInputs);

        for (var k = 0; k < inputs.Count; k++)
            Compare($"{layer.OpType} input {k}", inputs[k].Data, gradInputs[k].Data, () => Loss(layer, inputs, r), eps, tolerance, rng);
        foreach (var p in layer.Parameters)
            Compare($"{layer.OpType} parameter {p.Name}", p.Value, p.Grad, () => Loss(layer, inputs, r), eps, tolerance, rng);
    }

    /// <summary>Central differences on up to 60 random entries of <paramref name="values"/>.</summary>
    public static void Compare(string what, float[] values, float[] analytic, Func<double> loss, float eps, double tolerance, Random rng)
    {
        var entries = values.Length <= 60 ? Enumerable.Range(0, values.Length) : Enumerable.Range(0, 60).Select(_ => rng.Next(values.Length));
        var checkedAny = false;
        foreach (var i in entries)
        {
            var original = values[i];
            values[i] = original + eps;
            var plus = loss();
            values[i] = original - eps;
            var minus = loss();
            values[i] = original;
            var numeric = (plus - minus) / (2 * eps);
            Assert.That(analytic[i], Is.EqualTo(numeric).Within(tolerance + tolerance * Math.Abs(numeric)), $"{what}[{i}]");
            checkedAny |= Math.Abs(numeric) > 1e-3;
        }
        Assert.That(checkedAny, Is.True, $"{what}: every checked gradient is ~0, so the check proves nothing");
    }
}
