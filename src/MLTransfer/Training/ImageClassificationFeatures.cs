using System.Globalization;
using System.Security.Cryptography;
using MLTransfer.Backbones;
using MLTransfer.Features;
using MLTransfer.Images;

namespace MLTransfer.Training;

/// <summary>
/// Backbone features for the rows of an ML.NET data view, through the bottleneck cache: file paths go
/// through <see cref="FeatureExtractor"/>; raw image bytes (<c>LoadRawImageBytes</c>) are hashed, looked up
/// and, when missing, decoded and run in batches here.
/// </summary>
internal static class ImageClassificationFeatures
{
    /// <summary>An image given as a file path or as encoded bytes.</summary>
    internal sealed record ImageSource(string? Path, byte[]? Bytes, string Name);

    /// <summary>
    /// The cache for a backbone: without <paramref name="viewKey"/> the same one <see cref="TransferLearner"/>
    /// uses; with it, a separate cache for that augmentation view (<see cref="ImageAugmentation.ViewKey"/>),
    /// still keyed by content hash. <paramref name="pixels"/> names what decodes the images when it is not
    /// <see cref="ImageDecoder"/> (see <see cref="FeatureCache.OpenFor"/>).
    /// </summary>
    public static FeatureCache OpenCache(string workspace, string backboneSha256, PreparedBackbone prepared, string? viewKey = null, string? pixels = null,
        FeatureCacheOpenOptions? open = null) =>
        FeatureCache.OpenFor(workspace, "features", "features.bin", backboneSha256, prepared, prepared.Feature.FeatureTensor, viewKey, pixels, open);

    /// <summary>Logs an opened cache as <c>NAME: path (N entries)</c>, then one <c>NAME: ...</c> line per repair the open made.</summary>
    public static void LogOpened(FeatureCache cache, string name, Action<string> log)
    {
        log($"{name}: {cache.FilePath} ({cache.Count} entries)");
        foreach (var notice in cache.OpenNotices)
            log($"{name}: {notice}");
    }

    /// <summary>
    /// Features of every augmentation view of every source, view by view, each view reading and filling the
    /// cache <paramref name="openCache"/> gives for its index (null for no caching). Views that fail to decode
    /// are left out.
    /// </summary>
    /// <returns>(source index, features) per view that worked, and extracted/cached counts.</returns>
    public static (List<(int Source, float[] Features)> Views, int Extracted, int FromCache) ExtractViews(IReadOnlyList<ImageSource> sources, ImageAugmentation augmentation,
        BackboneSession session, Func<int, FeatureCache>? openCache, FeatureExtractionOptions options, CancellationToken cancellation)
    {
        var views = new List<(int, float[])>();
        int extracted = 0, fromCache = 0;
        for (var k = 0; k < augmentation.ViewCount; k++)
        {
            var index = k;
            using var cache = openCache?.Invoke(k);
            var r = Extract(sources, session, cache, options, cancellation, hash => augmentation.View(hash, index));
            for (var i = 0; i < sources.Count; i++)
                if (r.Features[i] is { } f)
                    views.Add((i, f));
            (extracted, fromCache) = (extracted + r.Extracted, fromCache + r.FromCache);
        }
        return (views, extracted, fromCache);
    }

    /// <summary>Features per source (null where the image is unusable), skip reasons, and extracted/cached counts.</summary>
    public static (float[]?[] Features, List<string> Skipped, int Extracted, int FromCache) Extract(
        IReadOnlyList<ImageSource> sources, BackboneSession session, FeatureCache? cache, FeatureExtractionOptions options, CancellationToken cancellation,
        Func<string, ImageView>? view = null, Func<string, byte[], DecodedImage>? decode = null)
    {
        var result = new float[]?[sources.Count];
        var skipped = new List<string>();
        int extracted = 0, fromCache = 0;

        var paths = sources.Where(s => s.Path is not null).Select(s => s.Path!).Distinct().ToList();
        if (paths.Count > 0)
        {
            var r = FeatureExtractor.Extract(paths, session, cache, options, cancellation, view, decode);
            extracted += r.Extracted;
            fromCache += r.FromCache;
            skipped.AddRange(r.Skipped.Select(s => $"{s.Path}: {s.Reason}"));
            for (var i = 0; i < sources.Count; i++)
                if (sources[i].Path is { } p && r.Features.TryGetValue(p, out var f))
                    result[i] = f;
        }

        var backbone = session.Backbone;
        var pending = new List<(int Index, string Hash, float[] Pixels)>();
        var batchSize = Math.Max(1, options.BatchSize);
        void Flush()
        {
            if (pending.Count == 0)
                return;
            var input = new float[pending.Count * session.InputLength];
            for (var i = 0; i < pending.Count; i++)
                pending[i].Pixels.CopyTo(input, i * session.InputLength);
            var output = session.Run(input, pending.Count);
            cache?.AddRange(pending.Select((p, i) => (p.Hash, output[i])));
            for (var i = 0; i < pending.Count; i++)
                result[pending[i].Index] = output[i];
            extracted += pending.Count;
            pending.Clear();
        }
        for (var i = 0; i < sources.Count; i++)
        {
            if (sources[i].Bytes is not { } bytes)
                continue;
            cancellation.ThrowIfCancellationRequested();
            var hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
            if (cache?.TryGet(hash) is { } cached)
            {
                result[i] = cached;
                fromCache++;
                continue;
            }
            try
            {
                var image = FeatureExtractor.DecodeForBackbone(backbone, bytes, sources[i].Name, hash, options, view, decode);
                var pixels = new float[session.InputLength];
                image.WritePlanes(pixels, backbone.Description.ChannelOrder == ChannelOrder.Bgr);
                pending.Add((i, hash, pixels));
            }
            catch (ImageDecodeException e)
            {
                skipped.Add($"{sources[i].Name}: {e.Reason}");
            }
            if (pending.Count >= batchSize)
                Flush();
        }
        Flush();
        return (result, skipped, extracted, fromCache);
    }
}
