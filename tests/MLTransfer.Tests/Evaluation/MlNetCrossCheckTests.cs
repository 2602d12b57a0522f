using Microsoft.ML;
using Microsoft.ML.Data;
using MLTransfer.Evaluation;
using NUnit.Framework;

namespace MLTransfer.Tests.Evaluation;

/// <summary>
/// Our metrics must agree with ML.NET's own multiclass evaluator, so that figures from this library and from
/// ML.NET pipelines can be compared directly.
/// </summary>
[TestFixture]
public class MlNetCrossCheckTests
{
    private const int Classes = 4;
    private const double Tol = 1e-5;

    private sealed class ScoredRow
    {
        // LoadFromEnumerable takes key-typed values as 0-based class indices (it stores index + 1 internally,
        // keeping 0 for "missing"); CreateEnumerable, by contrast, hands back the raw 1-based value.
        [KeyType(Classes)] public uint Label { get; set; }
        [VectorType(Classes)] public float[] Score { get; set; } = [];
        [KeyType(Classes)] public uint PredictedLabel { get; set; }
    }

    private static (int[] Labels, float[][] Probabilities) RandomScoredData(int seed, int n)
    {
        var rng = new Random(seed);
        var labels = new int[n];
        var probs = new float[n][];
        for (int s = 0; s < n; s++)
        {
            int label = rng.Next(Classes);
            labels[s] = label;
            if (s % 25 == 7)
            {
                // Exact ties exercise the tie-breaking of arg-max and of top-K ranks.
                probs[s] = [0.25f, 0.25f, 0.25f, 0.25f];
                continue;
            }
            if (s % 40 == 11)
            {
                // A zero probability for the true class exercises the 1e-15 clamp.
                probs[s] = new float[Classes];
                probs[s][(label + 1) % Classes] = 1f;
                continue;
            }
            // Softmax of noisy logits, biased toward the true class so the classifier is decent but imperfect.
            var logits = new double[Classes];
            for (int c = 0; c < Classes; c++)
                logits[c] = 1.5 * Gaussian(rng) + (c == label ? 1.8 : 0);
            double max = logits.Max();
            double sum = logits.Sum(z => Math.Exp(z - max));
            probs[s] = logits.Select(z => (float)(Math.Exp(z - max) / sum)).ToArray();
        }
        return (labels, probs);
    }

    private static double Gaussian(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    private static int ArgMax(float[] p)
    {
        int best = 0;
        for (int c = 1; c < p.Length; c++)
            if (p[c] > p[best])
                best = c;
        return best;
    }

    private static void AssertAgrees(ClassificationMetrics ours, MulticlassClassificationMetrics theirs, int topK)
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(ours.Accuracy, Is.EqualTo(theirs.MicroAccuracy).Within(Tol), "accuracy");
            Assert.That(ours.MacroAccuracy, Is.EqualTo(theirs.MacroAccuracy).Within(Tol), "macro accuracy");
            Assert.That(ours.LogLoss, Is.EqualTo(theirs.LogLoss).Within(Tol), "log-loss");
            Assert.That(ours.LogLossReduction, Is.EqualTo(theirs.LogLossReduction).Within(Tol), "log-loss reduction");
            Assert.That(theirs.TopKPredictionCount, Is.EqualTo(topK));
            Assert.That(ours.TopK(topK), Is.EqualTo(theirs.TopKAccuracy).Within(Tol), $"top-{topK} accuracy");
            for (int k = 1; k <= topK; k++)
                Assert.That(ours.TopK(k), Is.EqualTo(theirs.TopKAccuracyForAllK[k - 1]).Within(Tol), $"top-{k} accuracy");

            var counts = theirs.ConfusionMatrix.Counts;
            Assert.That(counts, Has.Count.EqualTo(Classes));
            for (int t = 0; t < Classes; t++)
                for (int p = 0; p < Classes; p++)
                    Assert.That(ours.ConfusionMatrix.Counts[t][p], Is.EqualTo(counts[t][p]), $"confusion[{t}][{p}]");

            for (int c = 0; c < Classes; c++)
            {
                Assert.That(ours.PerClass[c].Precision, Is.EqualTo(theirs.ConfusionMatrix.PerClassPrecision[c]).Within(Tol), $"precision {c}");
                Assert.That(ours.PerClass[c].Recall, Is.EqualTo(theirs.ConfusionMatrix.PerClassRecall[c]).Within(Tol), $"recall {c}");
            }
        }
    }

    [TestCase(1, 2)]
    [TestCase(2, 3)]
    [TestCase(3, 2)]
    public void Compute_RandomScores_AgreesWithMlNetEvaluator(int seed, int topK)
    {
        var (labels, probs) = RandomScoredData(seed, n: 400);
        var names = Enumerable.Range(0, Classes).Select(c => $"class{c}").ToArray();

        var ml = new MLContext(seed: seed);
        var rows = labels.Select((l, s) => new ScoredRow
        {
            Label = (uint)l,
            Score = probs[s],
            PredictedLabel = (uint)ArgMax(probs[s]),
        });
        var data = ml.Data.LoadFromEnumerable(rows);
        var theirs = ml.MulticlassClassification.Evaluate(data, topKPredictionCount: topK);

        var ours = MetricsCalculator.Compute(names, labels, probs);

        Assert.That(ours.Accuracy, Is.InRange(0.4, 0.95), "sanity: the synthetic classifier is decent but imperfect");
        AssertAgrees(ours, theirs, topK);
    }

    private sealed class BlobPoint
    {
        public string Species { get; set; } = "";
        [VectorType(2)] public float[] Features { get; set; } = [];
    }

    private sealed class Prediction
    {
        // Raw key value read back by CreateEnumerable: class index + 1.
        public uint Label { get; set; }
        public float[] Score { get; set; } = [];
    }

    [Test]
    public void Compute_TrainedMaximumEntropyModel_AgreesWithMlNetEvaluator()
    {
        // Four overlapping 2-D Gaussian blobs, so a linear model gets most but not all points right.
        var rng = new Random(7);
        string[] species = ["north", "east", "south", "west"];
        (double X, double Y)[] centres = [(0, 2), (2, 0), (0, -2), (-2, 0)];
        var points = Enumerable.Range(0, 600).Select(i =>
        {
            int c = i % Classes;
            return new BlobPoint
            {
                Species = species[c],
                Features = [(float)(centres[c].X + 1.3 * Gaussian(rng)), (float)(centres[c].Y + 1.3 * Gaussian(rng))],
            };
        }).ToList();

        var ml = new MLContext(seed: 7);
        var all = ml.Data.LoadFromEnumerable(points);
        var split = ml.Data.TrainTestSplit(all, testFraction: 0.5, seed: 7);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label", nameof(BlobPoint.Species))
            .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy());
        var scored = pipeline.Fit(split.TrainSet).Transform(split.TestSet);

        var theirs = ml.MulticlassClassification.Evaluate(scored, topKPredictionCount: 2);

        // Class names in key order, as ML.NET assigned them.
        VBuffer<ReadOnlyMemory<char>> keyNames = default;
        scored.Schema["Label"].GetKeyValues(ref keyNames);
        var names = keyNames.DenseValues().Select(v => v.ToString()).ToArray();

        var predictions = ml.Data.CreateEnumerable<Prediction>(scored, reuseRowObject: false).ToArray();
        var ours = MetricsCalculator.Compute(
            names,
            predictions.Select(p => (int)p.Label - 1).ToArray(),
            predictions.Select(p => p.Score).ToArray());

        Assert.That(names, Is.EquivalentTo(species));
        Assert.That(ours.Accuracy, Is.InRange(0.5, 0.98), "sanity: overlapping blobs are not perfectly separable");
        AssertAgrees(ours, theirs, topK: 2);
    }
}
