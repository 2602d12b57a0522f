namespace MLTransfer.Evaluation;

/// <summary>
/// One point of a coverage/accuracy curve: what an app gets when it abstains below a probability threshold
/// (and, on the gated curve, also on images judged out of domain).
/// </summary>
/// <param name="MinConfidence">The probability threshold: answers below it are withheld.</param>
/// <param name="Accepted">Images answered.</param>
/// <param name="Coverage">The share of images answered.</param>
/// <param name="Accuracy">The share of answered images answered right (NaN when none is answered).</param>
public sealed record CoveragePoint(double MinConfidence, int Accepted, double Coverage, double Accuracy);
