namespace MLTransfer.Inference;

/// <summary>Why a model does not stand by its answer (<see cref="ImagePrediction.Abstention"/>).</summary>
public enum AbstentionReason
{
    /// <summary>It does not abstain: the answer is in domain and as probable as the caller asked.</summary>
    None,
    /// <summary>The top probability is below the caller's minimum confidence.</summary>
    LowProbability,
    /// <summary>
    /// The image is unlike the training images of every class (its out-of-domain score is above the model's
    /// threshold): whatever class the model names, the image probably belongs to none of them.
    /// </summary>
    OutOfDomain,
}
