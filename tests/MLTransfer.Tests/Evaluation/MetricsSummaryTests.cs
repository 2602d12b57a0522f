using MLTransfer.Evaluation;
using NUnit.Framework;

namespace MLTransfer.Tests.Evaluation;

[TestFixture]
public class MetricsSummaryTests
{
    private static ClassificationMetrics Run(double accuracy, double logLoss, double top2, int topKCount = 2) =>
        new(
            Count: 100,
            Accuracy: accuracy,
            MacroAccuracy: accuracy / 2,
            LogLoss: logLoss,
            LogLossReduction: 1 - logLoss,
            TopKAccuracy: new[] { new TopKAccuracyEntry(1, accuracy), new TopKAccuracyEntry(2, top2), new TopKAccuracyEntry(3, 1) }
                .Take(topKCount).ToArray(),
            PerClass: [new ClassMetrics("a", 1, accuracy, 0.4, 50), new ClassMetrics("b", 1, accuracy, 0.6, 50)],
            ConfusionMatrix: new ConfusionMatrix(["a", "b"], [[1, 0], [0, 1]]));

    [Test]
    public void Summarise_KnownValues_GivesMeanAndSampleStd()
    {
        // Accuracy 0.70, 0.80, 0.90: mean 0.8; squared deviations 0.01 + 0 + 0.01 = 0.02; / (3 - 1) = 0.01; sqrt = 0.1.
        // Log-loss 0.5, 0.3, 0.4: mean 0.4; deviations 0.01 + 0.01 + 0 = 0.02 -> std 0.1.
        // Top-2 0.9, 0.9, 1.0 (third run also reports K = 3, which the others lack, so K = 3 is dropped):
        //   mean 2.8/3 = 0.933333; deviations (1/30)^2 * 2 + (2/30)^2 = 6/900 -> / 2 = 3/900 -> std 0.057735.
        var s = MetricsCalculator.Summarise([Run(0.7, 0.5, 0.9), Run(0.8, 0.3, 0.9), Run(0.9, 0.4, 1.0, topKCount: 3)]);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(s.Runs, Is.EqualTo(3));
            Assert.That(s.Accuracy.Mean, Is.EqualTo(0.8).Within(1e-12));
            Assert.That(s.Accuracy.Std, Is.EqualTo(0.1).Within(1e-12));
            Assert.That(s.MacroAccuracy.Mean, Is.EqualTo(0.4).Within(1e-12));
            Assert.That(s.MacroAccuracy.Std, Is.EqualTo(0.05).Within(1e-12));
            Assert.That(s.LogLoss.Mean, Is.EqualTo(0.4).Within(1e-12));
            Assert.That(s.LogLoss.Std, Is.EqualTo(0.1).Within(1e-12));
            Assert.That(s.LogLossReduction.Mean, Is.EqualTo(0.6).Within(1e-12));
            Assert.That(s.LogLossReduction.Std, Is.EqualTo(0.1).Within(1e-12));
            Assert.That(s.MacroF1.Mean, Is.EqualTo(0.5).Within(1e-12));
            Assert.That(s.MacroF1.Std, Is.EqualTo(0).Within(1e-12));
            Assert.That(s.TopKAccuracy.Select(t => t.K), Is.EqualTo(new[] { 1, 2 }));
            Assert.That(s.TopKAccuracy[1].Accuracy.Mean, Is.EqualTo(2.8 / 3).Within(1e-12));
            Assert.That(s.TopKAccuracy[1].Accuracy.Std, Is.EqualTo(Math.Sqrt(3.0 / 900)).Within(1e-12));
        }
    }

    [Test]
    public void Summarise_SingleRun_HasZeroStd()
    {
        var s = MetricsCalculator.Summarise([Run(0.7, 0.5, 0.9)]);
        Assert.That(s.Accuracy, Is.EqualTo(new MeanStd(0.7, 0)));
    }

    [Test]
    public void Summarise_Empty_Throws()
    {
        Assert.That(() => MetricsCalculator.Summarise([]), Throws.ArgumentException.With.Message.Contains("At least one"));
    }

    [Test]
    public void MeanAndStd_IsNumericallyStableForLargeOffsets()
    {
        // The naive E[x^2] - E[x]^2 formula loses all digits here; the two-pass form does not.
        var s = MetricsCalculator.MeanAndStd([1e9 + 1, 1e9 + 2, 1e9 + 3]);
        Assert.That(s.Std, Is.EqualTo(1.0).Within(1e-9));
    }
}
