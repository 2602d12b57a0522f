using MLTransfer.Evaluation;
using NUnit.Framework;
using static MLTransfer.Tests.Evaluation.EvaluationTestData;

namespace MLTransfer.Tests.Evaluation;

[TestFixture]
public class MetricsJsonTests
{
    [Test]
    public void Serialize_UsesCamelCaseAndRoundTrips()
    {
        var m = MetricsCalculator.Compute(Names, Labels, Probabilities);
        var json = MetricsJson.Serialize(m);
        var back = MetricsJson.Deserialize<ClassificationMetrics>(json);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(json, Does.Contain("\"macroAccuracy\":"));
            Assert.That(json, Does.Contain("\"logLossReduction\":"));
            Assert.That(json, Does.Contain("\"topKAccuracy\":"));
            Assert.That(json, Does.Contain("\"perClass\":"));
            Assert.That(json, Does.Contain("\"confusionMatrix\":"));
            Assert.That(json, Does.Contain("\n"), "indented");

            Assert.That(back.Count, Is.EqualTo(m.Count));
            Assert.That(back.Accuracy, Is.EqualTo(m.Accuracy));
            Assert.That(back.LogLoss, Is.EqualTo(m.LogLoss));
            Assert.That(back.LogLossReduction, Is.EqualTo(m.LogLossReduction));
            Assert.That(back.TopKAccuracy, Is.EqualTo(m.TopKAccuracy));
            Assert.That(back.PerClass, Is.EqualTo(m.PerClass));
            Assert.That(back.ConfusionMatrix.ClassNames, Is.EqualTo(Names));
            Assert.That(back.ConfusionMatrix.Counts, Is.EqualTo(m.ConfusionMatrix.Counts));
        }
    }

    [Test]
    public void Serialize_NaNReduction_RoundTrips()
    {
        var m = MetricsCalculator.Compute(["a", "b"], [0], [[0.9f, 0.1f]]);
        var back = MetricsJson.Deserialize<ClassificationMetrics>(MetricsJson.Serialize(m));
        Assert.That(back.LogLossReduction, Is.NaN);
    }

    [Test]
    public void Summary_RoundTripsThroughFile()
    {
        var m = MetricsCalculator.Compute(Names, Labels, Probabilities);
        var summary = MetricsCalculator.Summarise([m, m]);
        var path = Path.Combine(Path.GetTempPath(), $"mltransfer-eval-{Guid.NewGuid():N}", "summary.json");
        try
        {
            MetricsJson.WriteFile(path, summary);
            var back = MetricsJson.ReadFile<MetricsSummary>(path);
            using (Assert.EnterMultipleScope())
            {
                Assert.That(back.Accuracy, Is.EqualTo(summary.Accuracy));
                Assert.That(back.TopKAccuracy, Is.EqualTo(summary.TopKAccuracy));
                Assert.That(File.ReadAllText(path), Does.Contain("\"mean\":"));
            }
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(path)!, recursive: true);
        }
    }

    [Test]
    public void Options_AreReadOnly()
    {
        Assert.That(MetricsJson.Options.IsReadOnly, Is.True);
    }
}
