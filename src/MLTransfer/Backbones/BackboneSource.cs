namespace MLTransfer.Backbones;

/// <summary>
/// Where a run's backbone comes from, as every front door (train, fine-tune, the estimator) takes it: a
/// catalog name or ONNX file (or nothing, for the default choice), where to look for files, and whether
/// they may be downloaded. A plain string converts to it, so <c>Backbone = "mobilenet-v2"</c> works.
/// </summary>
public sealed record BackboneSource
{
    /// <summary>A catalog name (<c>mobilenet-v2</c>), a path to an ONNX file, or null for the default choice.</summary>
    public string? Name { get; init; }

    /// <summary>Offline folders searched for backbone files, besides <c>MLTRANSFER_BACKBONE_DIR</c>.</summary>
    public IReadOnlyList<string> Dirs { get; init; } = [];

    /// <summary>A user catalog JSON file with extra records, or null for the default location.</summary>
    public string? CatalogPath { get; init; }

    /// <summary>Whether a missing backbone may be downloaded.</summary>
    public bool AllowDownload { get; init; } = true;

    /// <summary>
    /// Adjusts the resolved description before use, e.g. the preprocessing of a custom ONNX file
    /// (<c>d => d with { Mean = [0.5f, 0.5f, 0.5f], Std = [0.5f, 0.5f, 0.5f] }</c>).
    /// </summary>
    public Func<BackboneDescription, BackboneDescription>? Adjust { get; init; }

    /// <summary>
    /// A statically quantized (int8) copy of this backbone written by <c>mltransfer quantize</c>, run instead of
    /// the float graph; its features (and cache entries and shards) are keyed apart from the float ones. Null runs float.
    /// </summary>
    public string? Int8Graph { get; init; }

    /// <summary>The backbone named <paramref name="name"/> (catalog name or file), found the default way.</summary>
    public static implicit operator BackboneSource(string? name) => new() { Name = name };
}
