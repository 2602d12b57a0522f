using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using MLTransfer.Confidence;

namespace MLTransfer.Export;

/// <summary>
/// The zip entry that holds what a calibrated model computes with: temperature, out-of-domain threshold, k, and
/// the unit-length reference features of training images. Binary because the features are many floats; the
/// temperature, threshold, k and counts are repeated from the metadata so that an edited <c>metadata.json</c>
/// alone cannot change a prediction unnoticed (the reader compares them).
/// </summary>
/// <remarks>
/// Layout, little-endian: the 8 ASCII bytes <c>MLTCAL01</c>, int32 reference images, int32 feature width, int32 k,
/// int32 0, float64 temperature, float64 threshold (NaN for none), then images × width float32, image by image.
/// </remarks>
internal static class CalibrationEntry
{
    /// <summary>Name of the entry in the zip.</summary>
    public const string Name = "MLTransfer/calibration.bin";

    private static readonly byte[] Magic = Encoding.ASCII.GetBytes("MLTCAL01");
    private const int HeaderBytes = 40;

    /// <summary>The entry's size for <paramref name="images"/> reference vectors of <paramref name="featureSize"/> floats.</summary>
    public static long ExpectedBytes(int images, int featureSize) => HeaderBytes + 4L * images * featureSize;

    /// <summary>The entry's bytes.</summary>
    public static byte[] Write(ConfidenceCalibration calibration)
    {
        var reference = calibration.Reference ?? throw new ArgumentException("The calibration has no reference features to save.", nameof(calibration));
        var bytes = new byte[ExpectedBytes(reference.Count, reference.FeatureSize)];
        Magic.CopyTo(bytes, 0);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), reference.Count);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(12), reference.FeatureSize);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(16), reference.Neighbours);
        BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(24), calibration.Temperature);
        BinaryPrimitives.WriteDoubleLittleEndian(bytes.AsSpan(32), calibration.OutOfDomainThreshold ?? double.NaN);
        var span = reference.Reference;
        for (var i = 0; i < span.Length; i++)
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(HeaderBytes + 4 * i), span[i]);
        return bytes;
    }

    /// <summary>
    /// Reads the entry's bytes (already size-checked against <see cref="ExpectedBytes"/> for the metadata's counts)
    /// and returns <paramref name="described"/> with its reference features, or the reason the entry does not match it.
    /// </summary>
    public static (ConfidenceCalibration? Calibration, string? Problem) Read(byte[] bytes, ConfidenceCalibration described, int featureSize)
    {
        if (bytes.Length != ExpectedBytes(described.ReferenceImages, featureSize) || !bytes.AsSpan(0, 8).SequenceEqual(Magic))
            return (null, "its calibration entry is not in the expected layout");
        var n = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8));
        var d = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(12));
        var k = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(16));
        if (n != described.ReferenceImages || d != featureSize || k != described.Neighbours)
            return (null, $"its calibration holds {n} reference vectors of {d} features with k = {k}, but the metadata says {described.ReferenceImages} of {featureSize} with k = {described.Neighbours}");
        var temperature = BinaryPrimitives.ReadDoubleLittleEndian(bytes.AsSpan(24));
        var threshold = BinaryPrimitives.ReadDoubleLittleEndian(bytes.AsSpan(32));
        if (temperature != described.Temperature)
            return (null, $"the metadata's calibration temperature {Format(described.Temperature)} is not the {Format(temperature)} the model computes with");
        var thresholdsAgree = described.OutOfDomainThreshold is { } t ? t == threshold : double.IsNaN(threshold);
        if (!thresholdsAgree)
            return (null, $"the metadata's out-of-domain threshold {Format(described.OutOfDomainThreshold)} is not the {Format(double.IsNaN(threshold) ? null : threshold)} the model computes with");
        var reference = new float[n * d];
        for (var i = 0; i < reference.Length; i++)
        {
            reference[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(HeaderBytes + 4 * i));
            if (!float.IsFinite(reference[i]))
                return (null, $"reference vector {i / d + 1} of its calibration has a value that is not a number");
        }
        var distance = new NeighbourDistance(reference, n, d, k);
        for (var r = 0; r < n; r++)
        {
            var norm = System.Numerics.Tensors.TensorPrimitives.Norm(distance.Row(r));
            if (Math.Abs(norm - 1) > 1e-3 && norm != 0)
                return (null, string.Create(CultureInfo.InvariantCulture, $"reference vector {r + 1} of its calibration is not unit length ({norm:G4})"));
        }
        return (described with { Reference = distance }, null);
    }

    private static string Format(double? value) => value?.ToString("R", CultureInfo.InvariantCulture) ?? "(none)";
}
