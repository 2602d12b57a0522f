namespace MLTransfer.Evaluation;

/// <summary>
/// Metrics of a multiclass classifier on one evaluated set, computed by <see cref="MetricsCalculator.Compute"/>.
/// </summary>
/// <remarks>
/// The headline figures follow ML.NET's <c>MulticlassClassificationMetrics</c> definitions so that numbers
/// reported by this library can be compared with numbers reported by ML.NET itself.
/// The record serialises with System.Text.Json; see <see cref="MetricsJson"/>.
/// </remarks>
/// <param name="Count">Number of evaluated samples.</param>
/// <param name="Accuracy">Micro accuracy: fraction of samples whose arg-max class is the true class.</param>
/// <param name="MacroAccuracy">
/// Mean of the per-class recalls, taken only over classes that occur in the true labels (ML.NET's definition),
/// so a class with no samples neither helps nor hurts.
/// </param>
/// <param name="LogLoss">
/// Mean over samples of <c>-ln p(true class)</c>, with <c>p</c> clamped to [1e-15, 1] as ML.NET does,
/// so a single confident mistake costs about 34.5 instead of infinity.
/// </param>
/// <param name="LogLossReduction">
/// <c>1 - LogLoss / LogLoss(prior)</c>, where the prior predicts the class frequencies of the evaluated labels
/// for every sample (ML.NET's definition). 1 is perfect, 0 is no better than the prior, negative is worse.
/// <see cref="double.NaN"/> when the prior log-loss is 0, i.e. when all labels belong to one class.
/// </param>
/// <param name="TopKAccuracy">
/// Fraction of samples whose true class is among the K highest-scored classes, for K = 1 .. min(5, classes - 1);
/// K = classes is omitted because it is always 1.
/// </param>
/// <param name="PerClass">Precision, recall, F1 and support of each class, in class-index order.</param>
/// <param name="ConfusionMatrix">Counts of true class (rows) versus predicted class (columns).</param>
public sealed record ClassificationMetrics(
    int Count,
    double Accuracy,
    double MacroAccuracy,
    double LogLoss,
    double LogLossReduction,
    IReadOnlyList<TopKAccuracyEntry> TopKAccuracy,
    IReadOnlyList<ClassMetrics> PerClass,
    ConfusionMatrix ConfusionMatrix)
{
    /// <summary>Top-K accuracy for the given K, or null when it was not computed (K &gt;= number of classes or K &gt; 5).</summary>
    public double? TopK(int k)
    {
        foreach (var entry in TopKAccuracy)
            if (entry.K == k)
                return entry.Accuracy;
        return null;
    }

    /// <summary>Unweighted mean of the per-class F1 scores over all classes, including those with no support.</summary>
    public double MacroF1 => PerClass.Count == 0 ? 0 : PerClass.Average(c => c.F1);
}

/// <summary>One top-K accuracy figure.</summary>
/// <param name="K">How many of the highest-scored classes count as a hit.</param>
/// <param name="Accuracy">Fraction of samples whose true class is among those K.</param>
public sealed record TopKAccuracyEntry(int K, double Accuracy);

/// <summary>Per-class figures, one-vs-rest.</summary>
/// <param name="Name">Class name.</param>
/// <param name="Precision">
/// Of the samples predicted as this class, the fraction that truly are. Defined as 0 when the class is never
/// predicted: an unused class earns no credit, and 0 keeps the value finite for averaging and JSON.
/// </param>
/// <param name="Recall">
/// Of the samples truly of this class, the fraction predicted as it. Defined as 0 when <paramref name="Support"/> is 0.
/// </param>
/// <param name="F1">Harmonic mean of precision and recall; 0 when both are 0.</param>
/// <param name="Support">Number of samples whose true label is this class.</param>
public sealed record ClassMetrics(string Name, double Precision, double Recall, double F1, int Support);

/// <summary>Confusion matrix of a multiclass classifier.</summary>
/// <param name="ClassNames">Class names, indexing both rows and columns.</param>
/// <param name="Counts"><c>Counts[t][p]</c> is the number of samples of true class <c>t</c> predicted as class <c>p</c>.</param>
public sealed record ConfusionMatrix(IReadOnlyList<string> ClassNames, int[][] Counts)
{
    /// <summary>Number of samples of true class <paramref name="trueClass"/> predicted as <paramref name="predictedClass"/>.</summary>
    public int this[int trueClass, int predictedClass] => Counts[trueClass][predictedClass];
}
