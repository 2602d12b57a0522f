using MLTransfer.Evaluation;

namespace MLTransfer.Training;

/// <summary>Validation and test metrics (null for an empty set), and the held-out images' outcomes.</summary>
internal sealed record RunEvaluation(ClassificationMetrics? Validation, ClassificationMetrics? Test, IReadOnlyList<ImageOutcome> HeldOut);
