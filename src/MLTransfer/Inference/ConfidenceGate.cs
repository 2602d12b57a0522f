using MLTransfer.Export;

namespace MLTransfer.Inference;

/// <summary>
/// Gives a model's verdict on one answer: the fused graph has already applied the calibrated temperature and
/// computed the out-of-domain score; the gate holds the threshold that score is judged against.
/// </summary>
internal sealed class ConfidenceGate
{
    private readonly bool _scored;
    private readonly float? _threshold;

    private ConfidenceGate(bool scored, float? threshold) => (_scored, _threshold) = (scored, threshold);

    /// <summary>
    /// The gate of a loaded model: no out-of-domain score for one saved without reference features; a score but
    /// no abstention on it for one whose threshold could not be fitted.
    /// </summary>
    public static ConfidenceGate For(ModelMetadata metadata) => metadata.Calibration is { Reference: not null } c
        ? new(true, (float?)c.OutOfDomainThreshold)
        : new(false, null);

    /// <summary>
    /// <paramref name="prediction"/> (made from calibrated probabilities) with its out-of-domain score and the
    /// verdict for <paramref name="minConfidence"/>.
    /// </summary>
    public ImagePrediction Judge(ImagePrediction prediction, float? outOfDomainScore, float minConfidence) =>
        Verdict(prediction with { OutOfDomainScore = _scored ? outOfDomainScore : null, OutOfDomainThreshold = _threshold }, minConfidence);

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
