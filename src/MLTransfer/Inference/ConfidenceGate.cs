using MLTransfer.Confidence;
using MLTransfer.Export;

namespace MLTransfer.Inference;

/// <summary>
/// Turns a model's raw answer into the one it stands by: applies the calibrated temperature to the head's
/// probabilities, measures the out-of-domain score of the backbone features, and gives the verdict. Pure: it
/// needs only the probabilities and the features, however they were computed (the saved ML.NET chain, or the
/// fused graph, whose second output is the features).
/// </summary>
internal sealed class ConfidenceGate
{
    private readonly double _temperature;
    private readonly NeighbourDistance? _reference;
    private readonly float? _threshold;

    private ConfidenceGate(double temperature, NeighbourDistance? reference, float? threshold) =>
        (_temperature, _reference, _threshold) = (temperature, reference, threshold);

    /// <summary>The gate of a loaded model (temperature 1 and no out-of-domain check for one saved without calibration).</summary>
    public static ConfidenceGate For(ModelMetadata metadata) => metadata.Calibration is { } c
        ? new ConfidenceGate(c.Temperature, c.Reference, c.Reference is null ? null : (float?)c.OutOfDomainThreshold)
        : new ConfidenceGate(1, null, null);

    /// <summary>The head's probabilities at the calibrated temperature (the same array when the temperature is 1).</summary>
    public float[] Calibrate(float[] headProbabilities) =>
        _temperature == 1 ? headProbabilities : TemperatureScaling.Apply(headProbabilities, _temperature);

    /// <summary>The out-of-domain score of backbone features, or null without reference features.</summary>
    public float? OutOfDomainScore(ReadOnlySpan<float> features) => _reference?.Score(features);

    /// <summary>
    /// <paramref name="prediction"/> (made from calibrated probabilities) with its out-of-domain score and the
    /// verdict for <paramref name="minConfidence"/>.
    /// </summary>
    public ImagePrediction Judge(ImagePrediction prediction, ReadOnlySpan<float> features, float minConfidence) =>
        Verdict(prediction with { OutOfDomainScore = OutOfDomainScore(features), OutOfDomainThreshold = _threshold }, minConfidence);

    /// <summary>
    /// The verdict: out of domain when the score is above the threshold (that comes first: such an image belongs
    /// to none of the classes, however probable one looks), else low probability below <paramref name="minConfidence"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minConfidence"/> is outside [0, 1].</exception>
    public static ImagePrediction Verdict(ImagePrediction prediction, float minConfidence)
    {
        if (!(minConfidence >= 0 && minConfidence <= 1))
            throw new ArgumentOutOfRangeException(nameof(minConfidence), minConfidence, "The minimum confidence is a probability, from 0 to 1.");
        var reason =
            prediction is { OutOfDomainScore: { } score, OutOfDomainThreshold: { } threshold } && score > threshold ? AbstentionReason.OutOfDomain
            : prediction.Probability < minConfidence ? AbstentionReason.LowProbability
            : AbstentionReason.None;
        return prediction with { Abstention = reason, MinConfidence = minConfidence };
    }
}
