using System.Text.Json.Serialization;

namespace MLTransfer.Confidence;

/// <summary>
/// How a model knows when not to answer, as saved in its zip (metadata <c>calibration</c>; the numbers that
/// change predictions are also in the binary entry <c>MLTransfer/calibration.bin</c>, and a load refuses a zip
/// where the two disagree): the softmax temperature, and the out-of-domain threshold with the training images'
/// features it measures distances to. Both were fitted on images the head did not train on (see <see cref="FittedOn"/>).
/// </summary>
public sealed record ConfidenceCalibration
{
    /// <summary>The out-of-domain method this version writes: cosine distance to the k-th nearest training image.</summary>
    public const string NeighbourCosine = "knn-cosine";

    /// <summary>The softmax temperature (1 = the head's own probabilities; above 1 softens them, below 1 sharpens them).</summary>
    public double Temperature { get; init; } = 1;

    /// <summary>Which images the temperature and the threshold were fitted on, or why they were not.</summary>
    public string? FittedOn { get; init; }

    /// <summary>Number of images they were fitted on (0 when not fitted).</summary>
    public int FittedImages { get; init; }

    /// <summary>How the out-of-domain score is computed (<see cref="NeighbourCosine"/>).</summary>
    public string OutOfDomainMethod { get; init; } = NeighbourCosine;

    /// <summary>The k of the k-th nearest training image whose distance is the score.</summary>
    public int Neighbours { get; init; }

    /// <summary>How many training images' features the model keeps to measure distances to.</summary>
    public int ReferenceImages { get; init; }

    /// <summary>
    /// Images scoring above this are out of domain, or null when no threshold could be fitted (the score is still
    /// reported, but never makes the model abstain).
    /// </summary>
    public double? OutOfDomainThreshold { get; init; }

    /// <summary>The share of in-domain images the threshold was chosen to accept (e.g. 0.95).</summary>
    public double TargetCoverage { get; init; }

    /// <summary>The reference features (loaded from the zip's binary entry; not part of the JSON).</summary>
    [JsonIgnore]
    internal NeighbourDistance? Reference { get; init; }
}
