using System.Text.Json;
using MLTransfer.Backbones.Onnx;
using MLTransfer.Images;

namespace MLTransfer.Backbones;

/// <summary>
/// What a prepared backbone graph was made from and how it expects its pixels, written into the graph's own
/// <c>metadata_props</c>. A model zip's metadata is a separate, editable file; the stamp travels with the
/// weights, so a loader can tell when the two disagree instead of predicting with the wrong classes or sizes.
/// </summary>
/// <param name="SourceSha256">SHA-256 of the original backbone file the graph was prepared from.</param>
/// <param name="InputWidth">Width of <see cref="PreparedBackbone.InputName"/>.</param>
/// <param name="InputHeight">Height of <see cref="PreparedBackbone.InputName"/>.</param>
/// <param name="ResizeMode">How images are fitted into the input.</param>
/// <param name="ChannelOrder">Order of the colour planes.</param>
/// <param name="Mean">Per-channel mean folded into the graph.</param>
/// <param name="Std">Per-channel standard deviation folded into the graph.</param>
/// <param name="FeatureSize">Width of <see cref="PreparedBackbone.OutputName"/>.</param>
internal sealed record PreparationStamp(
    string SourceSha256,
    int InputWidth,
    int InputHeight,
    ResizeMode ResizeMode,
    ChannelOrder ChannelOrder,
    IReadOnlyList<float> Mean,
    IReadOnlyList<float> Std,
    int FeatureSize)
{
    /// <summary>The <c>metadata_props</c> key.</summary>
    public const string Key = "mltransfer.preparation";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter() },
    };

    /// <summary>The stamp of a prepared graph, or null for graphs prepared before stamps existed.</summary>
    /// <exception cref="MLTransferException">A stamp is present but unreadable.</exception>
    public static PreparationStamp? Read(ModelProto model, string where)
    {
        var entry = model.MetadataProps.FirstOrDefault(p => p.Key == Key);
        if (entry is null)
            return null;
        try
        {
            return JsonSerializer.Deserialize<PreparationStamp>(entry.Value, Json)
                ?? throw new JsonException("null stamp");
        }
        catch (JsonException e)
        {
            throw new MLTransferException("The prepared backbone graph carries an unreadable preparation record", where,
                "The model file was altered or damaged; retrain it or copy it again", e);
        }
    }

    /// <summary>Writes (or replaces) the stamp in <paramref name="model"/>.</summary>
    public void WriteTo(ModelProto model)
    {
        var value = JsonSerializer.Serialize(this, Json);
        var existing = model.MetadataProps.FirstOrDefault(p => p.Key == Key);
        if (existing is null)
            model.MetadataProps.Add(new StringStringEntryProto { Key = Key, Value = value });
        else
            existing.Value = value;
    }
}
