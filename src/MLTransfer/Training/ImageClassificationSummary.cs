using MLTransfer.Evaluation;
using MLTransfer.Heads;

namespace MLTransfer.Training;

/// <summary>What a <see cref="ImageClassificationEstimator.Fit"/> did; carried by the fitted <see cref="ImageClassificationTransformer"/>.</summary>
public sealed record ImageClassificationSummary
{
    /// <summary>Class names in score (label key) order.</summary>
    public required IReadOnlyList<string> ClassNames { get; init; }
    /// <summary>Backbone name.</summary>
    public required string Backbone { get; init; }
    /// <summary>Training images used (augmentation views not counted).</summary>
    public int TrainCount { get; init; }
    /// <summary>Validation examples used.</summary>
    public int ValidationCount { get; init; }
    /// <summary>Rows left out (unreadable image or missing label), with reasons.</summary>
    public IReadOnlyList<string> Skipped { get; init; } = [];
    /// <summary>The kept head's training curve, one entry per epoch run.</summary>
    public IReadOnlyList<EpochMetrics> History => Head.History;
    /// <summary>The epoch whose weights were kept (1-based).</summary>
    public int BestEpoch => Head.BestEpoch;
    /// <summary>True when early stopping ended training before the last epoch.</summary>
    public bool StoppedEarly => Head.StoppedEarly;
    /// <summary>The L2 weight of the kept head (given, or chosen on validation).</summary>
    public float L2Regularization => Head.L2Regularization;
    /// <summary>Best validation loss per L2 candidate tried (empty when L2 was fixed).</summary>
    public IReadOnlyDictionary<float, double> L2Search { get; init; } = new Dictionary<float, double>();
    /// <summary>Metrics of the final head on the validation set, or null without one.</summary>
    public ClassificationMetrics? Validation { get; init; }
    /// <summary>k-fold summary when <c>Folds</c> ≥ 2, else null.</summary>
    public MetricsSummary? CrossValidation { get; init; }
    /// <summary>Images (and augmentation views) run through the backbone.</summary>
    public int ImagesExtracted { get; init; }
    /// <summary>Images whose features came from the cache.</summary>
    public int ImagesFromCache { get; init; }
    /// <summary>Extra training examples made by augmentation views (0 without augmentation); not counted in <see cref="TrainCount"/>.</summary>
    public int AugmentedExamples { get; init; }

    /// <summary>The final head training: network, curve, best epoch, early stop, L2.</summary>
    internal HeadTrainingResult Head { get; init; } = null!;
}
