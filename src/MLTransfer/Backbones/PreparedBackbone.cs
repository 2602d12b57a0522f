using MLTransfer.Images;
namespace MLTransfer.Backbones;

/// <summary>
/// A backbone rewritten for feature extraction: it takes raw pixels and returns only the embedding.
/// </summary>
/// <remarks>
/// The fixed input and output names let the rest of the library (ML.NET pipelines, ONNX Runtime sessions,
/// saved models) treat every backbone the same way, whatever its original tensor names were.
/// </remarks>
/// <param name="Description">The backbone record, with the detected feature tensor and size filled in.</param>
/// <param name="OnnxBytes">The prepared ONNX model.</param>
/// <param name="Feature">The feature tensor of the original graph that the output flattens.</param>
/// <param name="FeatureSize">Width of <see cref="OutputName"/>: the output is float <c>[N, FeatureSize]</c>.</param>
/// <param name="InputWidth">Image width the graph expects.</param>
/// <param name="InputHeight">Image height the graph expects.</param>
/// <param name="ChannelOrder">Order of the colour planes in <see cref="InputName"/>.</param>
/// <param name="OriginalInputName">Name of the original image input, now computed from the raw pixels.</param>
internal sealed record PreparedBackbone(
    BackboneDescription Description,
    byte[] OnnxBytes,
    FeatureTensorInfo Feature,
    int FeatureSize,
    int InputWidth,
    int InputHeight,
    ChannelOrder ChannelOrder,
    string OriginalInputName)
{
    /// <summary>
    /// The single input: float <c>[N, 3, H, W]</c>, planar, raw pixel values 0..255 in
    /// <see cref="ChannelOrder"/> order (what ML.NET's <c>ExtractPixels</c> gives with default scaling).
    /// </summary>
    public const string InputName = "mltransfer_input";

    /// <summary>The single output: float <c>[N, FeatureSize]</c>.</summary>
    public const string OutputName = "mltransfer_features";

    /// <summary>Number of floats in one image of the input (3 * H * W).</summary>
    public int InputLength => 3 * InputWidth * InputHeight;

    /// <summary>
    /// The batch size the graph is pinned to (its input declares a fixed first dimension, e.g. 1), or null when the
    /// batch is dynamic. Such a graph runs larger batches as several calls.
    /// </summary>
    public int? FixedBatchSize { get; init; }

    /// <summary>
    /// Null for the float graph; for a quantized copy, <c>int8:</c> and a digest of its graph, which is part of
    /// every cache key and shard signature because its features differ from the float graph's.
    /// </summary>
    public string? Precision { get; init; }
}
