namespace MLTransfer.Evaluation;

/// <summary>Mean and sample standard deviation of one metric over several runs.</summary>
/// <param name="Mean">Arithmetic mean.</param>
/// <param name="Std">
/// Sample standard deviation (divisor n - 1), because the runs (folds, seeds) are a sample of possible runs.
/// 0 when there is a single run: no spread can be observed, and 0 keeps tables and JSON readable.
/// </param>
public sealed record MeanStd(double Mean, double Std);

/// <summary>Mean and standard deviation of one top-K accuracy over several runs.</summary>
/// <param name="K">The K of the top-K accuracy.</param>
/// <param name="Accuracy">Its mean and standard deviation.</param>
public sealed record TopKAccuracySummary(int K, MeanStd Accuracy);

/// <summary>
/// Scalar metrics aggregated over several evaluations, for k-fold cross-validation or multi-seed reporting.
/// Produced by <see cref="MetricsCalculator.Summarise"/>.
/// </summary>
/// <param name="Runs">Number of evaluations summarised.</param>
/// <param name="Accuracy">Micro accuracy.</param>
/// <param name="MacroAccuracy">Macro accuracy.</param>
/// <param name="LogLoss">Log-loss.</param>
/// <param name="LogLossReduction">Log-loss reduction; NaN if any run had an undefined reduction.</param>
/// <param name="MacroF1">Mean per-class F1.</param>
/// <param name="TopKAccuracy">Top-K accuracy, for every K reported by all runs.</param>
public sealed record MetricsSummary(
    int Runs,
    MeanStd Accuracy,
    MeanStd MacroAccuracy,
    MeanStd LogLoss,
    MeanStd LogLossReduction,
    MeanStd MacroF1,
    IReadOnlyList<TopKAccuracySummary> TopKAccuracy);
