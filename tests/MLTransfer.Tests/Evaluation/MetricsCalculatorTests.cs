using MLTransfer.Evaluation;
using NUnit.Framework;
using static MLTransfer.Tests.Evaluation.EvaluationTestData;

namespace MLTransfer.Tests.Evaluation;

[TestFixture]
public class MetricsCalculatorTests
{
    private const double Tol = 1e-6;

    [Test]
    public void Compute_HandWorkedExample_MatchesHandArithmetic()
    {
        var m = MetricsCalculator.Compute(Names, Labels, Probabilities);

        // Confusion matrix, rows = true, columns = predicted (see the table in EvaluationTestData):
        //   cat : s0 cat, s1 cat, s2 bird, s3 bird  -> [2, 0, 2]
        //   dog : s4 dog, s5 dog, s6 cat            -> [1, 2, 0]
        //   bird: s7 bird, s8 cat, s9 bird          -> [1, 0, 2]
        int[][] expectedCounts = [[2, 0, 2], [1, 2, 0], [1, 0, 2]];

        // Predicted totals (column sums): cat 2+1+1 = 4, dog 0+2+0 = 2, bird 2+0+2 = 4.
        // Precision = diagonal / column sum: cat 2/4 = 0.5, dog 2/2 = 1, bird 2/4 = 0.5.
        // Recall    = diagonal / row sum:    cat 2/4 = 0.5, dog 2/3,     bird 2/3.
        // F1 = 2PR/(P+R): cat 0.5; dog 2*(2/3)/(5/3) = 0.8; bird (2/3)/(7/6) = 4/7.
        // Accuracy = (2+2+2)/10 = 0.6. Macro accuracy = (1/2 + 2/3 + 2/3)/3 = 11/18 = 0.611111.
        // Log-loss: true-class probabilities 0.7, 0.6, 0.3, 0.2, 0.8, 0.5, 0.4, 0.8, 0.2, 0.6;
        //   -ln of each: 0.356675 + 0.510826 + 1.203973 + 1.609438 + 0.223144
        //              + 0.693147 + 0.916291 + 0.223144 + 1.609438 + 0.510826 = 7.856900 -> / 10 = 0.785690.
        // Prior log-loss: label frequencies 0.4, 0.3, 0.3 -> -(0.4 ln 0.4 + 2 * 0.3 ln 0.3) = 1.088900;
        //   reduction = 1 - 0.785690 / 1.088900 = 0.278455.
        // Top-2: every sample except s8 (true class ranked 3rd) -> 9/10 = 0.9. 3 classes -> K = 1, 2 only.
        double expectedLogLoss = -(Math.Log(0.7) + Math.Log(0.6) + Math.Log(0.3) + Math.Log(0.2) + Math.Log(0.8)
                                   + Math.Log(0.5) + Math.Log(0.4) + Math.Log(0.8) + Math.Log(0.2) + Math.Log(0.6)) / 10;
        double priorLogLoss = -(0.4 * Math.Log(0.4) + 2 * 0.3 * Math.Log(0.3));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(m.Count, Is.EqualTo(10));
            Assert.That(m.ConfusionMatrix.ClassNames, Is.EqualTo(Names));
            Assert.That(m.ConfusionMatrix.Counts, Is.EqualTo(expectedCounts));
            Assert.That(m.ConfusionMatrix[0, 2], Is.EqualTo(2));

            Assert.That(m.Accuracy, Is.EqualTo(0.6).Within(Tol));
            Assert.That(m.MacroAccuracy, Is.EqualTo(11.0 / 18).Within(Tol));
            Assert.That(m.LogLoss, Is.EqualTo(expectedLogLoss).Within(Tol));
            Assert.That(m.LogLoss, Is.EqualTo(0.785690).Within(Tol));
            Assert.That(m.LogLossReduction, Is.EqualTo(1 - expectedLogLoss / priorLogLoss).Within(Tol));
            Assert.That(m.LogLossReduction, Is.EqualTo(0.278455).Within(Tol));

            Assert.That(m.TopKAccuracy.Select(e => e.K), Is.EqualTo(new[] { 1, 2 }));
            Assert.That(m.TopK(1), Is.EqualTo(0.6).Within(Tol));
            Assert.That(m.TopK(2), Is.EqualTo(0.9).Within(Tol));
            Assert.That(m.TopK(3), Is.Null);

            Assert.That(m.PerClass.Select(c => c.Name), Is.EqualTo(Names));
            Assert.That(m.PerClass.Select(c => c.Support), Is.EqualTo(new[] { 4, 3, 3 }));
            Assert.That(m.PerClass.Select(c => c.Precision), Is.EqualTo(new[] { 0.5, 1.0, 0.5 }).Within(Tol));
            Assert.That(m.PerClass.Select(c => c.Recall), Is.EqualTo(new[] { 0.5, 2.0 / 3, 2.0 / 3 }).Within(Tol));
            Assert.That(m.PerClass.Select(c => c.F1), Is.EqualTo(new[] { 0.5, 0.8, 4.0 / 7 }).Within(Tol));
            Assert.That(m.MacroF1, Is.EqualTo((0.5 + 0.8 + 4.0 / 7) / 3).Within(Tol));
        }
    }

    [Test]
    public void Compute_ArgmaxTie_GoesToLowestIndex()
    {
        var m = MetricsCalculator.Compute(["a", "b", "c"], [2], [[0.2f, 0.4f, 0.4f]]);

        // b and c tie at 0.4: prediction is b (index 1), so the true class c is wrong but ranked 2nd.
        using (Assert.EnterMultipleScope())
        {
            Assert.That(m.ConfusionMatrix.Counts[2], Is.EqualTo(new[] { 0, 1, 0 }));
            Assert.That(m.TopK(1), Is.Zero);
            Assert.That(m.TopK(2), Is.EqualTo(1.0));
        }
    }

    [Test]
    public void Compute_ClassNeverPredicted_HasZeroPrecisionAndCountsInMacroAccuracy()
    {
        // "c" occurs as a true label but is never the arg-max.
        var m = MetricsCalculator.Compute(
            ["a", "b", "c"],
            [0, 1, 2, 2],
            [[0.9f, 0.05f, 0.05f], [0.1f, 0.8f, 0.1f], [0.6f, 0.1f, 0.3f], [0.2f, 0.5f, 0.3f]]);

        var c = m.PerClass[2];
        using (Assert.EnterMultipleScope())
        {
            Assert.That(c.Precision, Is.Zero, "precision of a never-predicted class is defined as 0");
            Assert.That(c.Recall, Is.Zero);
            Assert.That(c.F1, Is.Zero);
            Assert.That(c.Support, Is.EqualTo(2));
            // Recalls 1, 1, 0 over the three present classes.
            Assert.That(m.MacroAccuracy, Is.EqualTo(2.0 / 3).Within(Tol));
            Assert.That(m.Accuracy, Is.EqualTo(0.5).Within(Tol));
            // a is predicted twice, right once.
            Assert.That(m.PerClass[0].Precision, Is.EqualTo(0.5).Within(Tol));
        }
    }

    [Test]
    public void Compute_ClassAbsentFromTrueLabels_HasZeroSupportAndIsLeftOutOfMacroAccuracy()
    {
        // "c" never occurs as a true label but is predicted once (wrongly).
        var m = MetricsCalculator.Compute(
            ["a", "b", "c"],
            [0, 0, 1],
            [[0.9f, 0.05f, 0.05f], [0.1f, 0.2f, 0.7f], [0.1f, 0.8f, 0.1f]]);

        var c = m.PerClass[2];
        using (Assert.EnterMultipleScope())
        {
            Assert.That(c.Support, Is.Zero);
            Assert.That(c.Recall, Is.Zero);
            Assert.That(c.Precision, Is.Zero, "predicted once, never right");
            Assert.That(m.ConfusionMatrix.Counts[2], Is.EqualTo(new[] { 0, 0, 0 }));
            // Recalls: a 1/2, b 1; c is skipped rather than counted as 0, as in ML.NET.
            Assert.That(m.MacroAccuracy, Is.EqualTo(0.75).Within(Tol));
            // Prior over present labels: 2/3, 1/3.
            double prior = -(2.0 / 3 * Math.Log(2.0 / 3) + 1.0 / 3 * Math.Log(1.0 / 3));
            double logLoss = -(Math.Log(0.9) + Math.Log(0.1) + Math.Log(0.8)) / 3;
            Assert.That(m.LogLossReduction, Is.EqualTo(1 - logLoss / prior).Within(Tol));
        }
    }

    [Test]
    public void Compute_ZeroProbabilityForTrueClass_IsClampedAt1e15()
    {
        var m = MetricsCalculator.Compute(["a", "b"], [0], [[0f, 1f]]);
        Assert.That(m.LogLoss, Is.EqualTo(-Math.Log(1e-15)).Within(1e-5));
    }

    [Test]
    public void Compute_SingleClassPresent_LogLossReductionIsNaN()
    {
        var m = MetricsCalculator.Compute(["a", "b"], [0, 0], [[0.9f, 0.1f], [0.6f, 0.4f]]);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(m.Accuracy, Is.EqualTo(1.0));
            Assert.That(m.LogLossReduction, Is.NaN);
        }
    }

    [Test]
    public void Compute_TopK_StopsAtFiveAndBelowClassCount()
    {
        var probs = new float[] { 0.3f, 0.2f, 0.1f, 0.1f, 0.1f, 0.1f, 0.05f, 0.05f };
        var m8 = MetricsCalculator.Compute(Enumerable.Range(0, 8).Select(i => $"c{i}").ToArray(), [4], [probs]);
        var m2 = MetricsCalculator.Compute(["a", "b"], [1], [[0.6f, 0.4f]]);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(m8.TopKAccuracy.Select(e => e.K), Is.EqualTo(new[] { 1, 2, 3, 4, 5 }));
            // c4 scores 0.1, tied with c2, c3, c5; stable order puts it after c0, c1, c2, c3 -> rank 5.
            Assert.That(m8.TopKAccuracy.Select(e => e.Accuracy), Is.EqualTo(new[] { 0.0, 0, 0, 0, 1 }));
            Assert.That(m2.TopKAccuracy.Select(e => e.K), Is.EqualTo(new[] { 1 }));
        }
    }

    [Test]
    public void Compute_LabelsAndProbabilitiesDifferInLength_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            MetricsCalculator.Compute(Names, [0, 1], [[0.1f, 0.2f, 0.7f]]));
        Assert.That(ex!.Message, Does.Contain("2 true labels but 1 probability vectors"));
    }

    [Test]
    public void Compute_ProbabilityVectorOfWrongLength_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            MetricsCalculator.Compute(Names, [0, 1], [[0.1f, 0.2f, 0.7f], [0.5f, 0.5f]]));
        Assert.That(ex!.Message, Does.Contain("sample 1 has 2 values but there are 3 classes"));
    }

    [TestCase(-1)]
    [TestCase(3)]
    public void Compute_LabelOutOfRange_Throws(int label)
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            MetricsCalculator.Compute(Names, [label], [[0.1f, 0.2f, 0.7f]]));
        Assert.That(ex!.Message, Does.Contain($"True label {label} of sample 0 is outside [0, 2]"));
    }

    [Test]
    public void Compute_NonFiniteProbability_Throws()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            MetricsCalculator.Compute(Names, [0], [[float.NaN, 0.2f, 0.7f]]));
        Assert.That(ex!.Message, Does.Contain("must be finite"));
    }

    [Test]
    public void Compute_NoSamplesOrNoClassesOrDuplicateNames_Throws()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(() => MetricsCalculator.Compute(Names, [], []),
                Throws.ArgumentException.With.Message.Contains("At least one sample"));
            Assert.That(() => MetricsCalculator.Compute([], [0], [[1f]]),
                Throws.ArgumentException.With.Message.Contains("At least one class name"));
            Assert.That(() => MetricsCalculator.Compute(["a", "a"], [0], [[1f, 0f]]),
                Throws.ArgumentException.With.Message.Contains("'a' appears more than once"));
            Assert.That(() => MetricsCalculator.Compute(Names, [0], [null!]),
                Throws.ArgumentNullException);
        }
    }
}
