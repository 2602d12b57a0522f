using MLTransfer.Confidence;
using NUnit.Framework;

namespace MLTransfer.Tests.Confidence;

public class NeighbourDistanceTests
{
    private static List<float[]> Vectors(int count, int width, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => Enumerable.Range(0, width).Select(_ => (float)rng.NextDouble() * 6).ToArray()).ToList();
    }

    private static double Cosine(float[] a, float[] b) =>
        a.Zip(b).Sum(p => (double)p.First * p.Second) / Math.Sqrt(a.Sum(v => (double)v * v) * b.Sum(v => (double)v * v));

    [TestCase(1)]
    [TestCase(10)]
    public void Score_IsOneMinusTheKthLargestCosine(int k)
    {
        var train = Vectors(60, 32, seed: 1);
        var distance = NeighbourDistance.Fit(train, train.Select((_, i) => i % 3).ToList(), k);
        Assert.That(distance.Neighbours, Is.EqualTo(k));
        foreach (var query in Vectors(20, 32, seed: 2))
        {
            var kth = train.Select(t => Cosine(query, t)).OrderDescending().ElementAt(k - 1);
            Assert.That(distance.Score(query), Is.EqualTo(1 - kth).Within(1e-5));
        }
    }

    [Test]
    public void Score_IsZeroOnATrainingImage_IgnoresScale_AndIsOneForAZeroVector()
    {
        var train = Vectors(30, 16, seed: 3);
        var distance = NeighbourDistance.Fit(train, train.Select(_ => 0).ToList(), neighbours: 1);
        Assert.That(distance.Score(train[7]), Is.EqualTo(0).Within(1e-6));
        Assert.That(distance.Score(train[7].Select(v => v * 40).ToArray()), Is.EqualTo(0).Within(1e-6));
        Assert.That(distance.Score(new float[16]), Is.EqualTo(1));
        Assert.Throws<ArgumentException>(() => distance.Score(new float[15]));
    }

    [Test]
    public void Fit_CapsTheReferenceSet_KeepingEveryClassItsShare()
    {
        var count = NeighbourDistance.MaxReferenceImages + 1000;
        var features = Enumerable.Range(0, count).Select(i => new float[] { i, 1 }).ToList();
        var labels = Enumerable.Range(0, count).Select(i => i < 600 ? 0 : 1).ToList();
        var distance = NeighbourDistance.Fit(features, labels);
        Assert.That(distance.Count, Is.LessThanOrEqualTo(NeighbourDistance.MaxReferenceImages).And.GreaterThan(NeighbourDistance.MaxReferenceImages - 3));
        // Class 0 is 600 of 6000 images: about a tenth of those kept.
        var small = Enumerable.Range(0, distance.Count).Count(r => distance.Row(r)[0] / distance.Row(r)[1] < 600);
        Assert.That(small, Is.EqualTo(500).Within(2));
        Assert.That(NeighbourDistance.Fit([new float[] { 1, 0 }], [0]).Neighbours, Is.EqualTo(1), "k never exceeds the reference images");
    }
}
