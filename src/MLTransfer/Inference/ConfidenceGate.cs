namespace MLTransfer.Inference;

/// <summary>
/// A model's verdict on one answer. The fused graph has already applied the calibrated temperature and computed
/// the out-of-domain score; the verdict judges that score against the model's threshold, then the probability
/// against the caller's minimum.
/// </summary>
internal static class ConfidenceGate
{
    /// <summary>
    /// The verdict: out of domain when the score is above the threshold (that comes first: such an image belongs
    /// to none of the classes, however probable one looks), else low probability below <paramref name="minConfidence"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minConfidence"/> is outside [0, 1].</exception>
    public static ImagePrediction Verdict(ImagePrediction prediction, float minConfidence)
    {
        CheckMinConfidence(minConfidence);
        var reason =
            prediction is { OutOfDomainScore: { } score, OutOfDomainThreshold: { } threshold } && score > threshold ? AbstentionReason.OutOfDomain
            : prediction.Probability < minConfidence ? AbstentionReason.LowProbability
            : AbstentionReason.None;
        return prediction with { Abstention = reason, MinConfidence = minConfidence };
    }

    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minConfidence"/> is outside [0, 1].</exception>
    public static void CheckMinConfidence(float minConfidence)
    {
        if (!(minConfidence >= 0 && minConfidence <= 1))
            throw new ArgumentOutOfRangeException(nameof(minConfidence), minConfidence, "The minimum confidence is a probability, from 0 to 1.");
    }
}
