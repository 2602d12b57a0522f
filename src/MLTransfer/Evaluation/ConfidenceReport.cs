namespace MLTransfer.Evaluation;

/// <summary>
/// How far a model's probabilities can be trusted and when it abstains, measured on the held-out set: expected
/// calibration error before and after temperature scaling, the out-of-domain threshold and the share of
/// held-out images it accepts, and the coverage/accuracy curves.
/// </summary>
public sealed record ConfidenceReport
{
    /// <summary>The fitted softmax temperature.</summary>
    public double Temperature { get; init; } = 1;
    /// <summary>Which images the temperature and threshold were fitted on (never the held-out set), or why they were not fitted.</summary>
    public string FittedOn { get; init; } = "";
    /// <summary>The set the figures below are measured on (<c>test</c>, or <c>validation</c> when it is the held-out set).</summary>
    public string MeasuredOn { get; init; } = "";
    /// <summary>Reliability of the head's own probabilities on <see cref="MeasuredOn"/>.</summary>
    public required Reliability Before { get; init; }
    /// <summary>Reliability after temperature scaling on <see cref="MeasuredOn"/>.</summary>
    public required Reliability After { get; init; }
    /// <summary>How the out-of-domain score is computed.</summary>
    public string OutOfDomainMethod { get; init; } = "";
    /// <summary>Out-of-domain threshold, or null when none was fitted.</summary>
    public double? OutOfDomainThreshold { get; init; }
    /// <summary>The share of in-domain images the threshold was chosen to accept on the images it was fitted on.</summary>
    public double TargetCoverage { get; init; }
    /// <summary>The share of <see cref="MeasuredOn"/> images the threshold accepts (compare with <see cref="TargetCoverage"/>).</summary>
    public double? InDomainCoverage { get; init; }
    /// <summary>Coverage/accuracy when abstaining below each probability threshold (calibrated probabilities, no out-of-domain check).</summary>
    public IReadOnlyList<CoveragePoint> CoverageCurve { get; init; } = [];
    /// <summary>The same with out-of-domain images also withheld.</summary>
    public IReadOnlyList<CoveragePoint> GatedCoverageCurve { get; init; } = [];
}
