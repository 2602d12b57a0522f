using MLTransfer.Evaluation;
using NUnit.Framework;
using static MLTransfer.Tests.Evaluation.EvaluationTestData;

namespace MLTransfer.Tests.Evaluation;

[TestFixture]
public class MetricsTableTests
{
    [Test]
    public void Format_ContainsTitleHeadlineFiguresClassesAndMatrix()
    {
        var m = MetricsCalculator.Compute(Names, Labels, Probabilities);
        var text = MetricsTable.Format(m, "Pets validation");
        TestContext.Out.WriteLine(text);
        var lines = text.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(lines[0], Is.EqualTo("Pets validation"));
            Assert.That(text, Does.Contain("Accuracy           : 0.6000"));
            Assert.That(text, Does.Contain("Macro accuracy     : 0.6111"));
            Assert.That(text, Does.Contain("Log-loss           : 0.7857"));
            Assert.That(text, Does.Contain("Log-loss reduction : 0.2785"));
            Assert.That(text, Does.Contain("Top-2 accuracy     : 0.9000"));

            // Per-class rows: name, precision, recall, F1, support.
            Assert.That(lines.Single(l => l.StartsWith("dog ") && l.Contains('.')), Does.Match(@"^dog\s+1\.0000\s+0\.6667\s+0\.8000\s+3$"));
            Assert.That(lines.Single(l => l.StartsWith("bird ") && l.Contains('.')), Does.Match(@"^bird\s+0\.5000\s+0\.6667\s+0\.5714\s+3$"));

            // Confusion matrix: header with class names, one row per true class.
            Assert.That(lines, Has.Some.Match(@"^true \\ pred\s+cat\s+dog\s+bird$"));
            Assert.That(lines, Has.Some.Match(@"^cat\s+2\s+0\s+2$"));
            Assert.That(lines, Has.Some.Match(@"^dog\s+1\s+2\s+0$"));
            Assert.That(lines, Has.Some.Match(@"^bird\s+1\s+0\s+2$"));
        }
    }

    [Test]
    public void Format_LongClassNames_AreTruncatedAndColumnsStayAligned()
    {
        string longName = "a_really_long_class_name_that_goes_on_and_on";
        var m = MetricsCalculator.Compute(
            [longName, "b"], [0, 1, 1], [[0.9f, 0.1f], [0.2f, 0.8f], [0.6f, 0.4f]]);
        var text = MetricsTable.Format(m, "t");
        TestContext.Out.WriteLine(text);
        var lines = text.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();

        int headerIndex = Array.FindIndex(lines, l => l.StartsWith("true \\ pred"));
        var matrix = lines.Skip(headerIndex).Take(4).ToArray(); // header, rule, two rows

        using (Assert.EnterMultipleScope())
        {
            Assert.That(text, Does.Not.Contain(longName));
            Assert.That(text, Does.Contain(longName[..(MetricsTable.MaxRowNameWidth - 1)] + "~"));
            Assert.That(matrix[0], Does.Contain(longName[..(MetricsTable.MaxColumnNameWidth - 1)] + "~"));
            // Every line of the matrix block has the same width, so columns line up.
            Assert.That(matrix.Select(l => l.Length).Distinct().Count(), Is.EqualTo(1), string.Join("\n", matrix));
            Assert.That(matrix[3], Does.Match(@"^b\s+1\s+1$"));
        }
    }

    [Test]
    public void Format_NaNReduction_IsShownAsNotAvailable()
    {
        var m = MetricsCalculator.Compute(["a", "b"], [0], [[0.9f, 0.1f]]);
        Assert.That(MetricsTable.Format(m, ""), Does.Contain("Log-loss reduction : n/a"));
    }
}
