namespace MLTransfer.Evaluation;

/// <summary>Builds a <see cref="ConfidenceReport"/> from a model's answers on a labelled set.</summary>
internal static class ConfidenceMeasurement
{
    /// <summary>Calibration error before and after, the share the out-of-domain threshold accepts, and the coverage/accuracy curves.</summary>
    /// <param name="raw">The head's own probabilities (before temperature scaling).</param>
    /// <param name="calibrated">The model's probabilities (after).</param>
    /// <param name="labels">True class of each image.</param>
    /// <param name="distances">Out-of-domain score of each image, or null when the model has none.</param>
    /// <param name="threshold">Out-of-domain threshold, or null.</param>
    /// <param name="facts">Temperature, what it was fitted on, method and target coverage, copied into the report.</param>
    /// <param name="measuredOn">Name of the set.</param>
    public static ConfidenceReport Measure(IReadOnlyList<float[]> raw, IReadOnlyList<float[]> calibrated, IReadOnlyList<int> labels, IReadOnlyList<float>? distances,
        double? threshold, ConfidenceReport facts, string measuredOn)
    {
        var confidence = calibrated.Select(p => (double)p.Max()).ToList();
        var correct = calibrated.Select((p, i) => Array.IndexOf(p, p.Max()) == labels[i]).ToList();
        var admitted = distances?.Select(d => threshold is not { } t || d <= t).ToList();
        return facts with
        {
            MeasuredOn = measuredOn,
            Before = CalibrationMetrics.Compute(raw, labels),
            After = CalibrationMetrics.Compute(calibrated, labels),
            OutOfDomainThreshold = threshold,
            InDomainCoverage = threshold is null || admitted is null ? null : admitted.Count(a => a) / (double)admitted.Count,
            CoverageCurve = SelectiveCurve.Compute(confidence, correct),
            GatedCoverageCurve = SelectiveCurve.Compute(confidence, correct, admitted),
        };
    }
}
