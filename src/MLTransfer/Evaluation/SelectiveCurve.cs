namespace MLTransfer.Evaluation;

/// <summary>Coverage/accuracy curves of abstaining below a probability threshold.</summary>
internal static class SelectiveCurve
{
    /// <summary>The thresholds of a curve: 0 to 1 by 0.05.</summary>
    public static IReadOnlyList<double> Thresholds { get; } = Enumerable.Range(0, 21).Select(i => i / 20.0).ToArray();

    /// <summary>The curve over <see cref="Thresholds"/>.</summary>
    /// <param name="confidence">Top-class probability of each image.</param>
    /// <param name="correct">Whether each top class is right.</param>
    /// <param name="admitted">Whether each image passes the other checks (in domain), or null to admit all.</param>
    public static IReadOnlyList<CoveragePoint> Compute(IReadOnlyList<double> confidence, IReadOnlyList<bool> correct, IReadOnlyList<bool>? admitted = null) =>
        Thresholds.Select(t => At(t, confidence, correct, admitted)).ToList();

    /// <summary>Coverage and accuracy when answers below <paramref name="threshold"/> are withheld.</summary>
    public static CoveragePoint At(double threshold, IReadOnlyList<double> confidence, IReadOnlyList<bool> correct, IReadOnlyList<bool>? admitted = null)
    {
        int accepted = 0, right = 0;
        for (var i = 0; i < confidence.Count; i++)
        {
            if (confidence[i] < threshold || admitted is not null && !admitted[i])
                continue;
            accepted++;
            if (correct[i])
                right++;
        }
        return new CoveragePoint(threshold, accepted, confidence.Count == 0 ? 0 : (double)accepted / confidence.Count,
            accepted == 0 ? double.NaN : (double)right / accepted);
    }
}
