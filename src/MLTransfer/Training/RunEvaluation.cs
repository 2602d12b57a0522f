using MLTransfer.Evaluation;

namespace MLTransfer.Training;

/// <summary>Validation and test metrics (null for an empty set), and the held-out images' outcomes.</summary>
internal sealed record RunEvaluation(ClassificationMetrics? Validation, ClassificationMetrics? Test, IReadOnlyList<ImageOutcome> HeldOut)
{
    /// <summary>Metrics on the training images (how well the head fits what it learned from).</summary>
    public ClassificationMetrics? Train { get; init; }

    /// <summary>Calibration and abstention measured on the held-out set, when the model is calibrated.</summary>
    public ConfidenceReport? Confidence { get; init; }
}
