namespace MLTransfer.Inference;

/// <summary>The model's answer for one image, and whether the model stands by it.</summary>
/// <param name="Label">The most probable class.</param>
/// <param name="Probability">Its probability (calibrated, when the model is).</param>
/// <param name="Probabilities">Probability of every class, in the model's class order.</param>
/// <param name="TopK">The most probable classes, best first.</param>
public sealed record ImagePrediction(
    string Label,
    float Probability,
    IReadOnlyList<ClassProbability> Probabilities,
    IReadOnlyList<ClassProbability> TopK)
{
    /// <summary>
    /// False when the model abstains (see <see cref="Abstention"/>): an app should then not act on
    /// <see cref="Label"/> as if it were known.
    /// </summary>
    public bool IsConfident => Abstention == AbstentionReason.None;

    /// <summary>Why the model abstains, or <see cref="AbstentionReason.None"/> when it answers.</summary>
    public AbstentionReason Abstention { get; init; }

    /// <summary>
    /// How far the image's features lie from the images the model learned from (cosine distance to its k-th
    /// nearest training image: small is typical, larger is stranger), or null for a model saved without calibration.
    /// </summary>
    public float? OutOfDomainScore { get; init; }

    /// <summary>The model's out-of-domain threshold, or null when it has none: above it, the image is judged out of domain.</summary>
    public float? OutOfDomainThreshold { get; init; }

    /// <summary>The probability below which this prediction abstains (0 unless the caller asked for one).</summary>
    public float MinConfidence { get; init; }

    /// <summary>The same prediction judged against another probability threshold.</summary>
    /// <param name="minConfidence">Abstain when <see cref="Probability"/> is below this, in [0, 1].</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minConfidence"/> is outside [0, 1].</exception>
    public ImagePrediction WithMinConfidence(float minConfidence) => ConfidenceGate.Verdict(this, minConfidence);
}

/// <summary>One class and its probability.</summary>
/// <param name="Label">Class name.</param>
/// <param name="Probability">Probability in [0, 1].</param>
public sealed record ClassProbability(string Label, float Probability);
