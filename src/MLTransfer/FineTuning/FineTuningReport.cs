using MLTransfer.Evaluation;

namespace MLTransfer.FineTuning;

/// <summary>What fine-tuning did: the cut, the learning curves, and frozen vs fine-tuned scores on the same split.</summary>
public sealed record FineTuningReport
{
    /// <summary>The cut and the trainable nodes.</summary>
    public required CutPlan Cut { get; init; }
    /// <summary>Number of trainable backbone weights (the head excluded).</summary>
    public int TrainableParameters { get; init; }
    /// <summary>Learning curves; epoch 0 is the warm-started head alone.</summary>
    public required IReadOnlyList<FineTuningEpoch> Epochs { get; init; }
    /// <summary>The epoch whose weights were kept (best early-stopping accuracy, then lowest loss).</summary>
    public int BestEpoch { get; init; }
    /// <summary>
    /// True when no fine-tuning epoch beat epoch 0 (the head alone on the pretrained backbone) on the
    /// early-stopping score, so the backbone was saved unchanged: the model is the frozen-backbone model.
    /// </summary>
    public bool KeptFrozenBackbone { get; init; }
    /// <summary>Folds of the cross-validation that chose the epoch count; 0 when an early-stopping set did.</summary>
    public int SelectionFolds { get; init; }
    /// <summary>True when training stopped because the early-stopping score no longer improved.</summary>
    public bool StoppedEarly { get; init; }
    /// <summary>Which images steered early stopping.</summary>
    public required string SelectionSet { get; init; }
    /// <summary>Images the saved backbone and head were trained on (excludes a set-aside early-stopping share; all training images after cross-validation).</summary>
    public int FitImages { get; init; }
    /// <summary>Images in the early-stopping set (with cross-validation: every training image, each scored out of fold).</summary>
    public int SelectionImages { get; init; }
    /// <summary>The frozen backbone with the saved head kind, on the validation split.</summary>
    public ClassificationMetrics? FrozenValidation { get; init; }
    /// <summary>The frozen backbone with the saved head kind, on the test split.</summary>
    public ClassificationMetrics? FrozenTest { get; init; }
    /// <summary>The fine-tuned model (as saved) on the validation split.</summary>
    public ClassificationMetrics? FineTunedValidation { get; init; }
    /// <summary>The fine-tuned model (as saved) on the test split.</summary>
    public ClassificationMetrics? FineTunedTest { get; init; }
    /// <summary>Time computing (or reading cached) cut activations.</summary>
    public TimeSpan CutExtractionTime { get; init; }
    /// <summary>Time fitting the head alone.</summary>
    public TimeSpan HeadWarmupTime { get; init; }
    /// <summary>Time of the joint epochs.</summary>
    public TimeSpan FineTuningTime { get; init; }
}
