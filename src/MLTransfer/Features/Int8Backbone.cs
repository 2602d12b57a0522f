using System.Security.Cryptography;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLTransfer.Backbones;
using MLTransfer.Backbones.Onnx;
using MLTransfer.Images;

namespace MLTransfer.Features;

/// <summary>What a quantized backbone file says about itself (its <c>mltransfer.int8</c> metadata).</summary>
/// <param name="SourceSha256">SHA-256 of the float backbone file it was made from.</param>
/// <param name="Preprocessing">The float backbone's preprocessing (<see cref="FeatureCacheKey.Preprocessing"/>).</param>
/// <param name="CalibrationImages">Training images whose activations set the ranges.</param>
/// <param name="FloatValidationAccuracy">Validation accuracy of a head on float features, when checked.</param>
/// <param name="Int8ValidationAccuracy">The same with int8 features.</param>
public sealed record Int8Record(string SourceSha256, string Preprocessing, int CalibrationImages, double? FloatValidationAccuracy, double? Int8ValidationAccuracy);

/// <summary>
/// The int8 execution path: calibrates activation ranges on a few hundred of the user's images, writes a
/// statically quantized (QDQ) copy of the prepared backbone, and loads such a copy back for extraction,
/// checked against the float backbone it was made from.
/// </summary>
internal static class Int8Backbone
{
    public const string MetadataKey = "mltransfer.int8";

    /// <summary>Min and max of every tensor <see cref="QdqQuantizer"/> quantizes, over <paramref name="images"/> (one image per run, so memory stays that of one forward pass).</summary>
    public static Dictionary<string, TensorRange> Calibrate(PreparedBackbone prepared, IReadOnlyList<string> images, ImageDecodeOptions decode, Action<string> log,
        CancellationToken cancellation)
    {
        var model = OnnxModelIO.Parse(prepared.OnnxBytes, prepared.Description.Name);
        var tensors = QdqQuantizer.TensorsToCalibrate(model);
        foreach (var name in tensors)
            model.Graph.Output.Add(new ValueInfoProto
            {
                Name = name,
                Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
            });
        using var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_BASIC, IntraOpNumThreads = Environment.ProcessorCount };
        using var session = new InferenceSession(model.ToByteArray(), options);
        var ranges = tensors.ToDictionary(t => t, _ => new TensorRange(float.PositiveInfinity, float.NegativeInfinity), StringComparer.Ordinal);
        var pixels = new float[prepared.InputLength];
        var used = 0;
        foreach (var path in images)
        {
            cancellation.ThrowIfCancellationRequested();
            DecodedImage image;
            try
            {
                image = ImageDecoder.Decode(ImageDecoder.ReadFile(path, decode), prepared.InputWidth, prepared.InputHeight, prepared.Description.ResizeMode, decode, path);
            }
            catch (ImageDecodeException)
            {
                continue;
            }
            image.WritePlanes(pixels, prepared.ChannelOrder == ChannelOrder.Bgr);
            var input = new DenseTensor<float>(pixels, [1, 3, prepared.InputHeight, prepared.InputWidth]);
            using var results = session.Run([NamedOnnxValue.CreateFromTensor(PreparedBackbone.InputName, input)], tensors);
            foreach (var r in results)
            {
                var span = r.AsTensor<float>() is DenseTensor<float> dense ? dense.Buffer.Span : r.AsTensor<float>().ToArray();
                var (min, max) = (System.Numerics.Tensors.TensorPrimitives.Min(span), System.Numerics.Tensors.TensorPrimitives.Max(span));
                var old = ranges[r.Name];
                ranges[r.Name] = new TensorRange(Math.Min(old.Min, min), Math.Max(old.Max, max));
            }
            used++;
        }
        if (used == 0)
            throw new MLTransferException("None of the calibration images could be decoded", null, "Check the dataset's training images");
        log($"int8: calibrated {tensors.Count} activation ranges on {used} training images");
        return ranges;
    }

    /// <summary>The quantized copy of a prepared float backbone, with its record in the graph's metadata.</summary>
    public static PreparedBackbone Quantize(PreparedBackbone prepared, IReadOnlyDictionary<string, TensorRange> ranges, Int8Record record)
    {
        var model = QdqQuantizer.Quantize(OnnxModelIO.Parse(prepared.OnnxBytes, prepared.Description.Name), ranges, prepared.Description.Name);
        return WithRecord(prepared, model, record);
    }

    /// <summary>The same quantized graph with an updated record (the accuracy check fills it in).</summary>
    public static PreparedBackbone WithRecord(PreparedBackbone int8, Int8Record record) =>
        WithRecord(int8, OnnxModelIO.Parse(int8.OnnxBytes, int8.Description.Name), record);

    private static PreparedBackbone WithRecord(PreparedBackbone prepared, ModelProto model, Int8Record record)
    {
        var existing = model.MetadataProps.FirstOrDefault(p => p.Key == MetadataKey);
        if (existing is not null)
            model.MetadataProps.Remove(existing);
        var precision = PrecisionOf(model);
        model.MetadataProps.Add(new StringStringEntryProto { Key = MetadataKey, Value = JsonSerializer.Serialize(record) });
        return prepared with { OnnxBytes = model.ToByteArray(), Precision = precision };
    }

    /// <summary>
    /// <c>int8:</c> and a digest of the quantized graph without its record, so the accuracy figures written
    /// into the file later do not change which features it is said to make.
    /// </summary>
    private static string PrecisionOf(ModelProto model)
    {
        var copy = model.Clone();
        var record = copy.MetadataProps.FirstOrDefault(p => p.Key == MetadataKey);
        if (record is not null)
            copy.MetadataProps.Remove(record);
        return "int8:" + Convert.ToHexStringLower(SHA256.HashData(copy.ToByteArray()))[..16];
    }

    /// <summary>
    /// Loads a quantized backbone written by <c>mltransfer quantize</c> in place of the float graph, after
    /// checking that it was made from the same backbone file with the same preprocessing.
    /// </summary>
    /// <exception cref="MLTransferException">The file is unreadable, not a quantized backbone, or made from another backbone.</exception>
    public static (PreparedBackbone Backbone, Int8Record Record) Load(string path, PreparedBackbone floatBackbone, string sourceSha256)
    {
        var model = OnnxModelIO.Load(path);
        var entry = model.MetadataProps.FirstOrDefault(p => p.Key == MetadataKey)
            ?? throw new MLTransferException("Not an int8 backbone written by 'mltransfer quantize' (no mltransfer.int8 record)", path,
                "Write one with the quantizer (CLI: mltransfer quantize --data DIR --backbone NAME --output FILE.onnx)");
        Int8Record record;
        try
        {
            record = JsonSerializer.Deserialize<Int8Record>(entry.Value) ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            throw new MLTransferException("The int8 backbone's record is unreadable", path, "Write it again with mltransfer quantize", e);
        }
        if (!string.Equals(record.SourceSha256, sourceSha256, StringComparison.OrdinalIgnoreCase))
            throw new MLTransferException($"The int8 backbone was made from another backbone file (SHA-256 {record.SourceSha256[..Math.Min(12, record.SourceSha256.Length)]}…, not {sourceSha256[..12]}…)", path,
                "Pass the backbone it was quantized from (BackboneSource.Name, CLI: --backbone), or quantize this one");
        var preprocessing = new FeatureCacheKey(sourceSha256, floatBackbone).Preprocessing;
        if (record.Preprocessing != preprocessing)
            throw new MLTransferException($"The int8 backbone was made for other preprocessing ('{record.Preprocessing}', here '{preprocessing}')", path,
                "Give the same backbone options as when it was quantized, or quantize again");
        var stamp = PreparationStamp.Read(model, path);
        if (stamp is null || stamp.FeatureSize != floatBackbone.FeatureSize)
            throw new MLTransferException("The int8 backbone does not carry the float backbone's preparation record", path, "Write it again with mltransfer quantize");
        return (floatBackbone with { OnnxBytes = model.ToByteArray(), Precision = PrecisionOf(model) }, record);
    }
}
