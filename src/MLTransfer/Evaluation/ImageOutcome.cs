namespace MLTransfer.Evaluation;

/// <summary>What the model said about one held-out image.</summary>
/// <param name="Path">The image file.</param>
/// <param name="TrueLabel">Its class.</param>
/// <param name="PredictedLabel">The model's most probable class.</param>
/// <param name="Confidence">Probability of the predicted class.</param>
/// <param name="TrueProbability">Probability the model gave the true class.</param>
public sealed record ImageOutcome(string Path, string TrueLabel, string PredictedLabel, float Confidence, float TrueProbability)
{
    /// <summary>The image's out-of-domain score (cosine distance to its k-th nearest training image), or null when the model has none.</summary>
    public float? OutOfDomainScore { get; init; }

    /// <summary>Cross-entropy of the true class: <c>−ln p(true class)</c>, with p clamped at 1e-15 as the log-loss is.</summary>
    public double Loss => -Math.Log(Math.Max(1e-15, TrueProbability));

    /// <summary>True when the prediction is wrong.</summary>
    public bool IsError => !string.Equals(TrueLabel, PredictedLabel, StringComparison.Ordinal);
}
