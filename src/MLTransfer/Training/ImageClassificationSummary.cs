using MLTransfer.Evaluation;
using MLTransfer.Training.Heads;

namespace MLTransfer.Training;

/// <summary>What the last <see cref="ImageClassificationEstimator.Fit"/> did.</summary>
/// <param name="ClassNames">Class names in score (label key) order.</param>
/// <param name="Backbone">Backbone name.</param>
/// <param name="TrainCount">Training images used (augmentation views not counted).</param>
/// <param name="ValidationCount">Validation examples used.</param>
/// <param name="Skipped">Rows left out (unreadable image or missing label), with reasons.</param>
/// <param name="Head">The final head training: epoch curve, best epoch, early stop, L2.</param>
/// <param name="L2Search">Best validation loss per L2 candidate tried (empty when L2 was fixed).</param>
/// <param name="Validation">Metrics of the final head on the validation set, or null without one.</param>
/// <param name="CrossValidation">k-fold summary when <c>Folds</c> ≥ 2, else null.</param>
/// <param name="ImagesExtracted">Images (and augmentation views) run through the backbone.</param>
/// <param name="ImagesFromCache">Images whose features came from the cache.</param>
public sealed record ImageClassificationSummary(
    IReadOnlyList<string> ClassNames,
    string Backbone,
    int TrainCount,
    int ValidationCount,
    IReadOnlyList<string> Skipped,
    HeadTrainingResult Head,
    IReadOnlyDictionary<float, double> L2Search,
    ClassificationMetrics? Validation,
    MetricsSummary? CrossValidation,
    int ImagesExtracted,
    int ImagesFromCache)
{
    /// <summary>Extra training examples made by augmentation views (0 without augmentation); not counted in <see cref="TrainCount"/>.</summary>
    public int AugmentedExamples { get; init; }
}
