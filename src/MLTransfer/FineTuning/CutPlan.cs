namespace MLTransfer.FineTuning;

/// <summary>Where a backbone is cut into a frozen bottom and a trainable top.</summary>
/// <param name="CutTensor">The tensor at the cut: computed once per image by the frozen part and cached.</param>
/// <param name="OutputTensor">The tensor the trainable part ends at (the prepared backbone's feature output).</param>
/// <param name="Nodes">Names of the trainable nodes, in graph order.</param>
/// <param name="RequestedConvLayers">Convolution layers asked for (<c>--unfreeze</c>).</param>
/// <param name="ConvLayers">Convolution layers actually above the cut; more than asked when the cut had to
/// move down to keep a residual block whole.</param>
/// <param name="CutShape">Shape of one image's cut activation <c>[C, H, W]</c>, once known.</param>
public sealed record CutPlan(
    string CutTensor,
    string OutputTensor,
    IReadOnlyList<string> Nodes,
    int RequestedConvLayers,
    int ConvLayers,
    IReadOnlyList<int>? CutShape = null)
{
    /// <summary>Floats per image at the cut.</summary>
    public int CutSize => CutShape?.Aggregate(1, (a, b) => a * b) ?? 0;

    /// <inheritdoc />
    public override string ToString() =>
        $"cut at '{CutTensor}'{(CutShape is null ? "" : " [" + string.Join("x", CutShape) + "]")}: {Nodes.Count} nodes with {ConvLayers} conv layer(s) trainable" +
        (ConvLayers != RequestedConvLayers ? $" ({RequestedConvLayers} asked; the cut moved down so that no skip connection crosses it)" : "");
}
