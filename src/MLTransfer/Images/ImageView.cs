namespace MLTransfer.Images;

/// <summary>
/// A deterministic transform applied while an image is decoded, for training-time augmentation: an optional
/// crop of the upright image, fitted to the target size exactly as the whole image would be (the backbone's
/// resize mode), then an optional horizontal mirror of the result.
/// </summary>
/// <param name="FlipHorizontal">Mirror left–right (after fitting, so the pixels are exactly the mirrored unflipped view).</param>
/// <param name="Crop">Region of the upright image to keep, or null for the whole image.</param>
internal sealed record ImageView(bool FlipHorizontal = false, RelativeRect? Crop = null)
{
    /// <summary>The untransformed image: decoding with it is the same as decoding without a view.</summary>
    public static ImageView Identity { get; } = new();

    /// <summary>The mirror image, as augmentation's flip view and flip test-time augmentation decode it.</summary>
    public static ImageView Mirror { get; } = new(FlipHorizontal: true);

    /// <summary>The feature-cache key of <see cref="Mirror"/>, shared by augmentation and test-time augmentation.</summary>
    public const string MirrorKey = "view-v1|flip";

    /// <summary>Canonical text of the transform (for cache keys and logs).</summary>
    public override string ToString() => $"flip={(FlipHorizontal ? 1 : 0)};crop={(Crop is { } c ? c.ToString() : "none")}";
}
