using MLTransfer.Backbones;
using MLTransfer.Images;

namespace MLTransfer.Features;

/// <summary>
/// The one extraction engine: images (files or encoded bytes) in, backbone features out, through the
/// bottleneck cache when one is given. Parallel decoding overlaps batched ONNX Runtime inference (see
/// <see cref="ExtractionRun"/>); an image that cannot be used is skipped with its reason, whoever asks.
/// </summary>
internal static class FeatureExtractor
{
    /// <summary>Extracts features for <paramref name="sources"/>.</summary>
    /// <param name="sources">The images.</param>
    /// <param name="session">The backbone to run.</param>
    /// <param name="cache">Bottleneck cache to read and fill, or null. It must be keyed for the pixels <paramref name="decode"/> makes.</param>
    /// <param name="options">Batch size, threads, limits and progress.</param>
    /// <param name="cancellation">Stops the run; finished batches stay cached.</param>
    /// <param name="decode">
    /// Turns (source, bytes, content hash) into pixels at the backbone's input size; null for
    /// <see cref="ImageDecoder"/> as prediction decodes. Throws <see cref="ImageDecodeException"/> to skip an image.
    /// </param>
    public static FeatureExtractionResult Extract(IReadOnlyList<ImageSource> sources, BackboneSession session, FeatureCache? cache = null,
        FeatureExtractionOptions? options = null, CancellationToken cancellation = default, Func<ImageSource, byte[], string, DecodedImage>? decode = null)
    {
        options ??= new FeatureExtractionOptions();
        decode ??= PredictionPixels(session.Backbone, options.Decode);
        return new ExtractionRun(sources, session, cache, options, decode, cancellation).Run();
    }

    /// <summary>Extracts features for image files (a convenience for callers without content hashes).</summary>
    public static FeatureExtractionResult Extract(IReadOnlyList<string> paths, BackboneSession session, FeatureCache? cache = null,
        FeatureExtractionOptions? options = null, CancellationToken cancellation = default) =>
        Extract(ImageSource.Files(paths), session, cache, options, cancellation);

    /// <summary>The pixels prediction sees: <see cref="ImageDecoder"/> at the backbone's size and resize mode.</summary>
    public static Func<ImageSource, byte[], string, DecodedImage> PredictionPixels(PreparedBackbone backbone, ImageDecodeOptions decode) =>
        (source, bytes, _) => ImageDecoder.Decode(bytes, backbone.InputWidth, backbone.InputHeight, backbone.Description.ResizeMode, decode, source.Name);

    /// <summary>The pixels of every image seen through <paramref name="view"/> (e.g. its mirror image).</summary>
    public static Func<ImageSource, byte[], string, DecodedImage> ViewPixels(PreparedBackbone backbone, ImageDecodeOptions decode, ImageView view) =>
        (source, bytes, _) => ImageDecoder.Decode(bytes, backbone.InputWidth, backbone.InputHeight, backbone.Description.ResizeMode, decode, source.Name, view);

    /// <summary>The pixels of augmentation view <paramref name="view"/> (a crop and/or flip chosen per image content).</summary>
    public static Func<ImageSource, byte[], string, DecodedImage> ViewPixels(PreparedBackbone backbone, ImageDecodeOptions decode, ImageAugmentation augmentation, int view) =>
        (source, bytes, hash) => ImageDecoder.Decode(bytes, backbone.InputWidth, backbone.InputHeight, backbone.Description.ResizeMode, decode, source.Name,
            augmentation.View(hash, view));

    /// <summary>
    /// Features of every augmentation view of every source, view by view, each view through the cache
    /// <paramref name="openCache"/> opens for its index (null for no caching). Views that fail to decode are left out.
    /// </summary>
    /// <returns>(source index, features) per view that worked, and extracted/cached counts.</returns>
    public static (List<(int Source, float[] Features)> Views, int Extracted, int FromCache) ExtractViews(IReadOnlyList<ImageSource> sources,
        ImageAugmentation augmentation, BackboneSession session, Func<int, FeatureCache?> openCache, FeatureExtractionOptions options, CancellationToken cancellation)
    {
        var views = new List<(int, float[])>();
        int extracted = 0, fromCache = 0;
        for (var k = 0; k < augmentation.ViewCount; k++)
        {
            using var cache = openCache(k);
            var r = Extract(sources, session, cache, options, cancellation, ViewPixels(session.Backbone, options.Decode, augmentation, k));
            for (var i = 0; i < sources.Count; i++)
                if (r.Features[i] is { } f)
                    views.Add((i, f));
            (extracted, fromCache) = (extracted + r.Extracted, fromCache + r.FromCache);
        }
        return (views, extracted, fromCache);
    }
}
