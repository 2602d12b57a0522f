using System.Globalization;
using System.Text.RegularExpressions;
using MLTransfer.Confidence;

namespace MLTransfer.Export;

/// <summary>
/// What valid model metadata looks like. Metadata comes from a file anyone can edit, so every field a
/// prediction depends on is checked before it is used: a bad value becomes one clear error at load, not
/// a crash or a wrong answer on every call.
/// </summary>
internal static partial class ModelMetadataRules
{
    /// <summary>Smallest and largest backbone input side accepted.</summary>
    public const int MinInputSide = 8, MaxInputSide = 4096;
    /// <summary>Most classes a model may name.</summary>
    public const int MaxClasses = 100_000;
    /// <summary>Longest class name.</summary>
    public const int MaxClassNameLength = 1_000;
    /// <summary>Widest feature vector accepted.</summary>
    public const int MaxFeatureSize = 1 << 20;
    /// <summary>Largest k of the out-of-domain score's k-th nearest neighbour accepted.</summary>
    public const int MaxNeighbours = 100;

    [GeneratedRegex("^[0-9a-fA-F]{64}$")]
    private static partial Regex Sha256Pattern();

    /// <summary>Throws when a field is missing or out of range.</summary>
    /// <exception cref="MLTransferException">The first problem found, naming the field.</exception>
    public static void Check(ModelMetadata m, string path)
    {
        var problem = Problem(m);
        if (problem is not null)
            throw new MLTransferException($"The model's metadata ({ModelPackage.MetadataEntry}) is invalid: {problem}", path,
                "The file was altered or damaged; retrain the model or copy it again");
    }

    private static string? Problem(ModelMetadata m)
    {
        if (m.ClassNames is not { } classes)
            return "classNames is missing";
        if (classes.Count < 2 || classes.Count > MaxClasses)
            return $"classNames has {classes.Count} entries (a model has 2 to {MaxClasses:N0} classes)";
        for (var i = 0; i < classes.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(classes[i]))
                return $"class name {i + 1} is empty";
            if (classes[i].Length > MaxClassNameLength)
                return $"class name {i + 1} is longer than {MaxClassNameLength:N0} characters";
        }
        if (classes.Distinct(StringComparer.Ordinal).Count() != classes.Count)
            return "classNames repeats a name";
        if (m.Backbone is not { } b)
            return "backbone is missing";
        if (string.IsNullOrWhiteSpace(b.Name))
            return "backbone.name is missing";
        if (b.InputWidth is < MinInputSide or > MaxInputSide || b.InputHeight is < MinInputSide or > MaxInputSide)
            return $"backbone input size {b.InputWidth}×{b.InputHeight} is outside {MinInputSide}..{MaxInputSide}";
        if (!Enum.IsDefined(b.ResizeMode))
            return $"backbone.resizeMode {(int)b.ResizeMode} is not a known mode";
        if (!Enum.IsDefined(b.ChannelOrder))
            return $"backbone.channelOrder {(int)b.ChannelOrder} is not a known order";
        if (b.Mean is not { Count: 3 } mean || mean.Any(v => !float.IsFinite(v)))
            return "backbone.mean must be three finite numbers";
        if (b.Std is not { Count: 3 } std || std.Any(v => !float.IsFinite(v) || v <= 0))
            return "backbone.std must be three positive numbers";
        if (m.BackboneSha256 is null || !Sha256Pattern().IsMatch(m.BackboneSha256))
            return "backboneSha256 is not a SHA-256 (64 hex digits)";
        if (m.FeatureSize is < 1 or > MaxFeatureSize)
            return $"featureSize {m.FeatureSize} is outside 1..{MaxFeatureSize:N0}";
        if (!Enum.IsDefined(m.InputKind))
            return $"inputKind {(int)m.InputKind} is not a known kind";
        if (string.IsNullOrWhiteSpace(m.InputColumn) || string.IsNullOrWhiteSpace(m.ScoreColumn))
            return "inputColumn and scoreColumn must name columns";
        return m.Calibration is { } c ? CalibrationProblem(c) : null;
    }

    private static string? CalibrationProblem(ConfidenceCalibration c)
    {
        var inv = CultureInfo.InvariantCulture;
        if (!(c.Temperature >= TemperatureScaling.MinTemperature && c.Temperature <= TemperatureScaling.MaxTemperature))
            return string.Create(inv, $"calibration.temperature {c.Temperature} is outside {TemperatureScaling.MinTemperature}..{TemperatureScaling.MaxTemperature}");
        if (c.OutOfDomainMethod != ConfidenceCalibration.NeighbourCosine)
            return $"calibration.outOfDomainMethod '{c.OutOfDomainMethod}' is not one this version knows ({ConfidenceCalibration.NeighbourCosine})";
        if (c.ReferenceImages is < 1 or > NeighbourDistance.MaxReferenceImages)
            return $"calibration.referenceImages {c.ReferenceImages} is outside 1..{NeighbourDistance.MaxReferenceImages:N0}";
        if (c.Neighbours < 1 || c.Neighbours > Math.Min(MaxNeighbours, c.ReferenceImages))
            return $"calibration.neighbours {c.Neighbours} is outside 1..{Math.Min(MaxNeighbours, c.ReferenceImages)}";
        // A cosine distance lies in [0, 2].
        if (c.OutOfDomainThreshold is { } t && !(t >= 0 && t <= 2))
            return string.Create(inv, $"calibration.outOfDomainThreshold {t} is outside 0..2");
        if (!(c.TargetCoverage >= 0 && c.TargetCoverage <= 1))
            return string.Create(inv, $"calibration.targetCoverage {c.TargetCoverage} is outside 0..1");
        if (c.FittedImages < 0)
            return "calibration.fittedImages is negative";
        return null;
    }
}
