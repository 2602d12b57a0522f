using MLTransfer.Confidence;
using NUnit.Framework;

namespace MLTransfer.Tests.Confidence;

public class TemperatureScalingTests
{
    /// <summary>
    /// Logits whose labels are drawn from softmax(z / trueT), handed over as softmax(z): the probabilities of a head
    /// that is over-confident by exactly trueT.
    /// </summary>
    private static (List<float[]> Probabilities, List<int> Labels) Overconfident(double trueT, int count, int seed)
    {
        var rng = new Random(seed);
        var (probabilities, labels) = (new List<float[]>(), new List<int>());
        for (var n = 0; n < count; n++)
        {
            var z = Enumerable.Range(0, 5).Select(_ => 3 * Gaussian(rng)).ToArray();
            var truth = Softmax(z, trueT);
            var u = rng.NextDouble();
            var label = 0;
            for (double cumulative = truth[0]; cumulative < u && label < 4; cumulative += truth[++label]) { }
            probabilities.Add(Softmax(z, 1).Select(p => (float)p).ToArray());
            labels.Add(label);
        }
        return (probabilities, labels);
    }

    private static double Gaussian(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    private static double[] Softmax(double[] z, double t)
    {
        var max = z.Max();
        var e = z.Select(v => Math.Exp((v - max) / t)).ToArray();
        var sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    [TestCase(2.0)]
    [TestCase(0.5)]
    public void Fit_RecoversTheTemperatureTheLabelsWereDrawnAt(double trueT)
    {
        var (probabilities, labels) = Overconfident(trueT, 4000, seed: 3);
        var fitted = TemperatureScaling.Fit(probabilities, labels);
        Assert.That(fitted, Is.EqualTo(trueT).Within(0.1 * trueT));
        // It is the minimum: nudging it either way costs likelihood.
        var best = TemperatureScaling.NegativeLogLikelihood(probabilities, labels, fitted);
        Assert.That(TemperatureScaling.NegativeLogLikelihood(probabilities, labels, fitted * 1.1), Is.GreaterThan(best));
        Assert.That(TemperatureScaling.NegativeLogLikelihood(probabilities, labels, fitted / 1.1), Is.GreaterThan(best));
    }

    [Test]
    public void Apply_KeepsTheRankingAndSumsToOne_AndTemperatureOneChangesNothing()
    {
        float[] p = [0.7f, 0.2f, 0.05f, 0.05f];
        Assert.That(TemperatureScaling.Apply(p, 1), Is.EqualTo(p).Within(1e-6f));
        var soft = TemperatureScaling.Apply(p, 2);
        var sharp = TemperatureScaling.Apply(p, 0.5);
        Assert.That(soft.Sum(), Is.EqualTo(1).Within(1e-6));
        Assert.That(sharp.Sum(), Is.EqualTo(1).Within(1e-6));
        Assert.That(soft[0], Is.LessThan(p[0]), "above 1 softens");
        Assert.That(sharp[0], Is.GreaterThan(p[0]), "below 1 sharpens");
        Assert.That(soft[0] > soft[1] && soft[1] > soft[2], "ranking kept");
        // softmax(ln p / 2) ∝ sqrt(p).
        var roots = p.Select(MathF.Sqrt).ToArray();
        Assert.That(soft, Is.EqualTo(roots.Select(r => r / roots.Sum()).ToArray()).Within(1e-6f));
        // Applying 1/T undoes T (the report computes the uncalibrated figures this way).
        Assert.That(TemperatureScaling.Apply(soft, 0.5), Is.EqualTo(p).Within(1e-6f));
    }

    [Test]
    public void Apply_ToleratesZeroProbabilities()
    {
        var result = TemperatureScaling.Apply([1f, 0f, 0f], 3);
        Assert.That(result.All(float.IsFinite));
        Assert.That(result[0], Is.GreaterThan(0.999f));
    }

    [Test]
    public void Fit_StaysInItsRange_WhenEveryLabelIsCertain()
    {
        // All right and sure: the likelihood keeps improving as T shrinks, so the fit stops at the bound.
        var probabilities = Enumerable.Range(0, 50).Select(i => i % 2 == 0 ? new[] { 0.9f, 0.1f } : new[] { 0.1f, 0.9f }).ToList();
        var labels = Enumerable.Range(0, 50).Select(i => i % 2).ToList();
        Assert.That(TemperatureScaling.Fit(probabilities, labels), Is.EqualTo(TemperatureScaling.MinTemperature).Within(1e-6));
        Assert.Throws<ArgumentException>(() => TemperatureScaling.Fit([], []));
    }
}
