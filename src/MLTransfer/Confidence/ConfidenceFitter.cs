namespace MLTransfer.Confidence;

/// <summary>
/// Fits a <see cref="ConfidenceCalibration"/> from labelled images the head did not train on: the temperature
/// that minimises their log-loss, and the out-of-domain threshold that accepts <c>targetCoverage</c> of them.
/// </summary>
internal static class ConfidenceFitter
{
    /// <summary>Share of in-domain images the default threshold accepts.</summary>
    public const double DefaultTargetCoverage = 0.95;

    /// <summary>Fits the calibration.</summary>
    /// <param name="probabilities">The head's probabilities for each calibration image (uncalibrated).</param>
    /// <param name="labels">Their true classes.</param>
    /// <param name="outOfDomainScores">Their out-of-domain scores, measured against reference images they are not among.</param>
    /// <param name="reference">The reference the saved model measures against (the training images).</param>
    /// <param name="targetCoverage">Share of the calibration images the threshold must accept, in (0, 1].</param>
    /// <param name="fittedOn">Which images these are, for the report.</param>
    public static ConfidenceCalibration Fit(IReadOnlyList<float[]> probabilities, IReadOnlyList<int> labels, IReadOnlyList<float> outOfDomainScores,
        NeighbourDistance reference, double targetCoverage, string fittedOn)
    {
        if (!(targetCoverage > 0 && targetCoverage <= 1))
            throw new ArgumentOutOfRangeException(nameof(targetCoverage), targetCoverage, "The target coverage must be in (0, 1].");
        return new ConfidenceCalibration
        {
            Temperature = TemperatureScaling.Fit(probabilities, labels),
            FittedOn = fittedOn,
            FittedImages = probabilities.Count,
            OutOfDomainThreshold = Threshold(outOfDomainScores, targetCoverage),
            TargetCoverage = targetCoverage,
            Neighbours = reference.Neighbours,
            ReferenceImages = reference.Count,
            Reference = reference,
        };
    }

    /// <summary>No images to fit on: temperature 1 and no threshold, with the reason.</summary>
    public static ConfidenceCalibration Unfitted(NeighbourDistance reference, string reason) => new()
    {
        Temperature = 1,
        FittedOn = reason,
        Neighbours = reference.Neighbours,
        ReferenceImages = reference.Count,
        Reference = reference,
    };

    /// <summary>The smallest score that at least <paramref name="coverage"/> of <paramref name="scores"/> do not exceed.</summary>
    public static double Threshold(IReadOnlyList<float> scores, double coverage)
    {
        if (scores.Count == 0)
            throw new ArgumentException("No scores to choose a threshold from.", nameof(scores));
        var sorted = scores.Order().ToArray();
        var index = (int)Math.Ceiling(coverage * sorted.Length - 1e-9) - 1;
        return sorted[Math.Clamp(index, 0, sorted.Length - 1)];
    }
}
