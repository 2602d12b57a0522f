using MLTransfer.Backbones;
using MLTransfer.Backbones.Store;

namespace MLTransfer.Training;

/// <summary>Resolves a run's backbone, applies the caller's adjustments and prepares its graph, logging each step.</summary>
internal static class BackbonePreparation
{
    public static ResolvedBackbone Resolve(BackboneSource? source, Action<string> log, CancellationToken cancellation)
    {
        source ??= new BackboneSource();
        var resolved = BackboneResolver.Resolve(source.Name, source.CatalogPath, source.Dirs, source.AllowDownload, log, cancellation);
        if (source.Adjust is not null)
            resolved = resolved with { Description = source.Adjust(resolved.Description) };
        log($"backbone: {resolved.Description.Name} — {resolved.Reason}");
        return resolved;
    }

    /// <param name="source">Where the backbone comes from.</param>
    /// <param name="log">Receives each step.</param>
    /// <param name="cancellation">Stops a download.</param>
    /// <param name="resizeInput">Run the backbone at the (adjusted) description's input size, not the file's.</param>
    public static (ResolvedBackbone Resolved, PreparedBackbone Prepared) Run(BackboneSource? source, Action<string> log, CancellationToken cancellation, bool resizeInput = false)
    {
        var resolved = Resolve(source, log, cancellation);
        var prepared = BackboneGraph.Prepare(resolved.FilePath, resolved.Description, resizeInput);
        if (source?.Int8Graph is { } int8)
            (resolved, prepared) = Int8Preparation.Apply(int8, resolved, prepared, log);
        log($"features: tensor '{prepared.Feature.FeatureTensor}' ({prepared.FeatureSize}-d, {prepared.Feature.Origin}), input {prepared.InputWidth}×{prepared.InputHeight} {resolved.Description.ResizeMode}");
        if (prepared.FixedBatchSize is { } batch)
            log($"batch: the backbone graph fixes its batch size at {batch}, so images run {(batch == 1 ? "one at a time" : $"{batch} at a time")} whatever FeatureExtractionOptions.BatchSize (CLI: --batch-size) says");
        return (resolved, prepared);
    }
}
