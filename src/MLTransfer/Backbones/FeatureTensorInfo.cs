namespace MLTransfer.Backbones;

/// <summary>
/// The tensor of a pretrained classifier that is used as the image embedding, and how it was found.
/// </summary>
/// <param name="FeatureTensor">Name of the value in the ONNX graph (e.g. <c>features</c>).</param>
/// <param name="ClassifierNode">
/// Name of the final classifier node that consumes the tensor (e.g. <c>classifier</c>), or null when the
/// user named the tensor and no detection took place.
/// </param>
/// <param name="ClassifierOpType">Operator of that node: <c>Gemm</c>, <c>MatMul</c> or <c>Conv</c>; null as above.</param>
/// <param name="FeatureSize">
/// Width of the feature vector after flattening, or null when the graph does not declare it; it is then
/// found by running the graph once (see <see cref="BackboneGraph.Prepare(byte[], BackboneDescription)"/>).
/// </param>
/// <param name="NeedsFlatten">
/// True when the tensor is not already <c>[N, C]</c>, e.g. the <c>[N, C, 1, 1]</c> pooled map that feeds a
/// 1x1 Conv classifier; the prepared graph flattens it either way, this only tells callers what to expect.
/// </param>
/// <param name="HeadlessOutput">
/// True when the graph has no classifier and the tensor is its single, pooled output (a headless backbone such as
/// ML.NET's ResNet-18); <paramref name="ClassifierNode"/> is then null although nothing was user-specified.
/// </param>
internal sealed record FeatureTensorInfo(
    string FeatureTensor,
    string? ClassifierNode,
    string? ClassifierOpType,
    int? FeatureSize,
    bool NeedsFlatten,
    bool HeadlessOutput = false)
{
    /// <summary>True when the tensor came from the user rather than from detection.</summary>
    public bool UserSpecified => ClassifierNode is null && !HeadlessOutput;

    /// <summary>How the tensor was found, for logs and <c>backbones inspect</c>.</summary>
    public string Origin =>
        HeadlessOutput ? "the graph's own output: headless backbone, no classifier"
        : UserSpecified ? "user-specified"
        : $"input of {ClassifierOpType} '{ClassifierNode}'";

    /// <inheritdoc />
    public override string ToString()
    {
        var size = FeatureSize?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "?";
        return $"'{FeatureTensor}' ({size} features, {Origin}{(NeedsFlatten ? ", flattened" : "")})";
    }
}
