using MLTransfer.Training;

namespace MLTransfer.FineTuning;

/// <summary>Options of a fine-tuning run; every property has a default that suits small datasets.</summary>
public sealed record FineTuningOptions
{
    /// <summary>Data split, backbone choice, cache, extraction and logging, shared with <see cref="TransferLearner"/>.
    /// The head kind and regularisation given here are those of the head saved with the model.</summary>
    public TransferLearningOptions Transfer { get; init; } = new();
    /// <summary>
    /// How many Conv layers, counted back from the feature tensor, become trainable (see <see cref="CutPlan"/>;
    /// more become trainable when the cut must move down to keep a residual block whole). Default 4: for
    /// MobileNetV2 the last inverted-residual block and the final 1x1 conv.
    /// </summary>
    public int Unfreeze { get; init; } = 4;
    /// <summary>Upper bound on training epochs; early stopping usually ends sooner.</summary>
    public int MaxEpochs { get; init; } = 20;
    /// <summary>Epochs without a better validation score before training stops.</summary>
    public int Patience { get; init; } = 4;
    /// <summary>Images per gradient step.</summary>
    public int BatchSize { get; init; } = 32;
    /// <summary>Adam learning rate of the head during joint training.</summary>
    public float LearningRate { get; init; } = 1e-3f;
    /// <summary>The backbone layers learn at <see cref="LearningRate"/> × this factor (discriminative learning rates).</summary>
    public float BackboneLearningRateFactor { get; init; } = 0.1f;
    /// <summary>Full-batch Adam steps that fit the head alone on the frozen features before joint training.</summary>
    public int HeadWarmupSteps { get; init; } = 300;
    /// <summary>Adam learning rate of the head warm-up.</summary>
    public float HeadWarmupLearningRate { get; init; } = 0.05f;
    /// <summary>Weight decay of the trained head (on mean cross-entropy).</summary>
    public float HeadL2 { get; init; } = 1e-3f;
    /// <summary>
    /// When the data has no test split, the validation split is the reported held-out set and must not steer
    /// training, so the number of epochs is chosen by this many-fold stratified cross-validation on the
    /// training images (every image scored once, out of fold), then the backbone is retrained on all of them.
    /// Default 5. Capped by the smallest class; below 2, <see cref="SelectionFraction"/> is carved instead.
    /// </summary>
    public int SelectionFolds { get; init; } = 5;
    /// <summary>
    /// When cross-validation is off (<see cref="SelectionFolds"/> below 2, or a class with a single training
    /// image), this share of each class of the training images is set aside for early stopping instead.
    /// </summary>
    public double SelectionFraction { get; init; } = 0.15;
}
