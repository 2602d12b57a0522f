namespace MLTransfer.Evaluation;

/// <summary>How well stated confidence matches accuracy on one set: the reliability diagram and its summary.</summary>
/// <param name="ExpectedCalibrationError">
/// Σ over bins of (images in bin / images) × |accuracy − mean confidence|: 0 when every confidence is exactly
/// as often right as it says.
/// </param>
/// <param name="Bins">Equal-width bins of the top-class probability, lowest first (empty bins included, with count 0).</param>
public sealed record Reliability(double ExpectedCalibrationError, IReadOnlyList<ReliabilityBin> Bins);

/// <summary>One bar of a reliability diagram.</summary>
/// <param name="Lower">Lower edge of the bin (exclusive, except for the first).</param>
/// <param name="Upper">Upper edge of the bin (inclusive).</param>
/// <param name="Count">Images whose top-class probability falls in the bin.</param>
/// <param name="MeanConfidence">Their mean top-class probability (NaN when empty).</param>
/// <param name="Accuracy">The share of them predicted right (NaN when empty).</param>
public sealed record ReliabilityBin(double Lower, double Upper, int Count, double MeanConfidence, double Accuracy);
