using MLTransfer.Images;
namespace MLTransfer.Backbones;

/// <summary>One graph input or output as shown to the user.</summary>
/// <param name="Name">Value name.</param>
/// <param name="ElementType">Element type, e.g. <c>float32</c>, or <c>unknown</c>.</param>
/// <param name="Shape">Dimensions: numbers for static sizes, names (e.g. <c>N</c>) for symbolic ones, <c>?</c> for unknown; null when not declared.</param>
internal sealed record OnnxTensorSummary(string Name, string ElementType, IReadOnlyList<string>? Shape)
{
    /// <inheritdoc />
    public override string ToString() =>
        $"{Name}: {ElementType} {(Shape is null ? "[unknown shape]" : "[" + string.Join(",", Shape) + "]")}";
}

/// <summary>
/// Preprocessing read from a model's metadata, expressed the way <see cref="BackboneDescription"/> wants it.
/// </summary>
/// <remarks>
/// Converters rarely record preprocessing in a standard form, so this is a best-effort guess from free
/// text; <see cref="Evidence"/> shows what it was read from so the user can check it.
/// </remarks>
/// <param name="Mean">Per-channel mean on [0,1] pixels.</param>
/// <param name="Std">Per-channel standard deviation on [0,1] pixels.</param>
/// <param name="ChannelOrder">Channel order if the metadata states it.</param>
/// <param name="Evidence">The metadata entry the guess comes from, as <c>key = value</c>.</param>
internal sealed record PreprocessingGuess(
    IReadOnlyList<float> Mean,
    IReadOnlyList<float> Std,
    ChannelOrder? ChannelOrder,
    string Evidence);

/// <summary>What <c>mltransfer inspect</c> shows about an ONNX file.</summary>
/// <param name="IrVersion">ONNX IR version.</param>
/// <param name="Producer">Producer name and version.</param>
/// <param name="Opset">Version of the default (<c>ai.onnx</c>) operator set, or 0 if not imported.</param>
/// <param name="Inputs">Real graph inputs (initializer-backed inputs are left out).</param>
/// <param name="Outputs">Graph outputs.</param>
/// <param name="NodeCount">Number of nodes in the main graph.</param>
/// <param name="ParameterCount">Total number of elements in the initializers.</param>
/// <param name="Feature">The detected feature tensor, or null if detection failed.</param>
/// <param name="DetectionError">Why detection failed, or null.</param>
/// <param name="Metadata">The model's <c>metadata_props</c>.</param>
/// <param name="Preprocessing">Preprocessing guessed from the metadata, or null.</param>
internal sealed record OnnxModelSummary(
    long IrVersion,
    string Producer,
    long Opset,
    IReadOnlyList<OnnxTensorSummary> Inputs,
    IReadOnlyList<OnnxTensorSummary> Outputs,
    int NodeCount,
    long ParameterCount,
    FeatureTensorInfo? Feature,
    string? DetectionError,
    IReadOnlyDictionary<string, string> Metadata,
    PreprocessingGuess? Preprocessing);
