using MLTransfer.Evaluation;
using NUnit.Framework;

namespace MLTransfer.Tests.Evaluation;

public class CalibrationMetricsTests
{
    [Test]
    public void Ece_IsTheCountWeightedGapBetweenAccuracyAndConfidence()
    {
        // Bin (0.8667, 0.9333]: four images at 0.9, three right -> gap 0.15. Bin (0.5333, 0.6]: two at 0.6, both right -> gap 0.4.
        var probabilities = new List<float[]>
        {
            new[] { 0.9f, 0.1f }, new[] { 0.9f, 0.1f }, new[] { 0.9f, 0.1f }, new[] { 0.1f, 0.9f },
            new[] { 0.6f, 0.4f }, new[] { 0.4f, 0.6f },
        };
        var labels = new[] { 0, 0, 0, 0, 0, 1 };
        var r = CalibrationMetrics.Compute(probabilities, labels);
        Assert.That(r.Bins, Has.Count.EqualTo(15));
        Assert.That(r.ExpectedCalibrationError, Is.EqualTo(4.0 / 6 * 0.15 + 2.0 / 6 * 0.4).Within(1e-6));
        var high = r.Bins.Single(b => b.Count == 4);
        Assert.That((high.MeanConfidence, high.Accuracy), Is.EqualTo((0.9, 0.75)).Within(1e-6));
        Assert.That(r.Bins.Sum(b => b.Count), Is.EqualTo(6));
        Assert.That(double.IsNaN(r.Bins[0].Accuracy), "empty bins have no accuracy");
    }

    [Test]
    public void Ece_IsZeroWhenConfidenceIsAsOftenRightAsItSays()
    {
        // Ten images at 0.8 confidence, eight right.
        var probabilities = Enumerable.Range(0, 10).Select(_ => new[] { 0.8f, 0.2f }).ToList();
        var labels = Enumerable.Range(0, 10).Select(i => i < 8 ? 0 : 1).ToList();
        Assert.That(CalibrationMetrics.Compute(probabilities, labels).ExpectedCalibrationError, Is.EqualTo(0).Within(1e-6));
        Assert.Throws<ArgumentException>(() => CalibrationMetrics.Compute([], []));
    }

    [Test]
    public void Auroc_CountsPairs_WithTiesAsHalf()
    {
        double[] negatives = [0.1, 0.2, 0.3, 0.3];
        double[] positives = [0.3, 0.4, 0.05];
        var pairs = positives.Sum(p => negatives.Sum(n => p > n ? 1.0 : p == n ? 0.5 : 0));
        Assert.That(Auroc.Compute(negatives, positives), Is.EqualTo(pairs / 12).Within(1e-12));
        Assert.That(Auroc.Compute([0.1, 0.2], [0.3, 0.9]), Is.EqualTo(1));
        Assert.That(Auroc.Compute([0.3, 0.9], [0.1, 0.2]), Is.EqualTo(0));
    }

    [Test]
    public void CoverageCurve_WithholdsAnswersBelowTheThresholdAndOutsideTheDomain()
    {
        double[] confidence = [0.95, 0.9, 0.6, 0.4];
        bool[] correct = [true, true, false, false];
        var curve = SelectiveCurve.Compute(confidence, correct);
        Assert.That(curve.First().Coverage, Is.EqualTo(1));
        Assert.That(curve.First().Accuracy, Is.EqualTo(0.5));
        var at = SelectiveCurve.At(0.7, confidence, correct);
        Assert.That((at.Accepted, at.Coverage, at.Accuracy), Is.EqualTo((2, 0.5, 1.0)));
        var gated = SelectiveCurve.At(0, confidence, correct, [true, false, true, true]);
        Assert.That((gated.Accepted, gated.Accuracy), Is.EqualTo((3, 1.0 / 3)));
        Assert.That(double.IsNaN(SelectiveCurve.At(0.99, confidence, correct).Accuracy), "nothing answered");
    }
}
