using System.Globalization;
using MLTransfer.Backbones;

namespace MLTransfer.Features;

/// <summary>
/// Which cache file holds a tensor: one per backbone file (its SHA-256), per preprocessing (everything that
/// changes the pixels fed to it) and per cached tensor. Every trainer names its cache here, so they share
/// entries and a change of decoder is made in one place.
/// </summary>
/// <param name="BackboneSha256">SHA-256 of the backbone file.</param>
/// <param name="Backbone">The prepared graph whose output is cached.</param>
/// <param name="Tensor">The cached tensor: null for the backbone's features, else a name such as <c>cut:TENSOR</c>.</param>
/// <param name="View">An augmentation view (<see cref="Images.ImageAugmentation.ViewKey"/>), or null for the image as it is.</param>
/// <param name="Pixels">
/// What decodes the images when it is not <see cref="Images.ImageDecoder"/> (whose pixels are
/// <see cref="FeatureCache.DecoderVersion"/>), e.g. ML.NET's LoadImages for a chain that decodes with it.
/// </param>
internal sealed record FeatureCacheKey(string BackboneSha256, PreparedBackbone Backbone, string? Tensor = null, string? View = null, string? Pixels = null)
{
    /// <summary>
    /// Everything that changes the tensor for a given backbone file, as one canonical line: the pixels, the input
    /// size, resize mode, channel order, normalisation, the tensor and (for int8) the quantized graph.
    /// Feature shards carry it too, so shards and caches agree on what "the same features" means.
    /// </summary>
    public string Preprocessing
    {
        get
        {
            var d = Backbone.Description;
            var text = string.Create(CultureInfo.InvariantCulture,
                $"{Pixels ?? FeatureCache.DecoderVersion}|{Backbone.InputWidth}x{Backbone.InputHeight}|{d.ResizeMode}|{d.ChannelOrder}|{string.Join(',', d.Mean)}|{string.Join(',', d.Std)}|{Tensor ?? Backbone.Feature.FeatureTensor}");
            return Backbone.Precision is { } precision ? text + "|" + precision : text;
        }
    }

    /// <summary>The cache file under <paramref name="workspace"/>.</summary>
    public string PathIn(string workspace)
    {
        var preprocessing = Preprocessing;
        if (View is not null)
            preprocessing += "\n" + View;
        var (folder, file) = Tensor is null ? ("features", "features.bin") : ("cuts", "activations.bin");
        return System.IO.Path.Combine(workspace, folder, FeatureCache.KeyFor(BackboneSha256, preprocessing), file);
    }
}
