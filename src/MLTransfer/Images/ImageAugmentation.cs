using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace MLTransfer.Images;

/// <summary>
/// Training-time augmentation computed once and cached: every training image gets <see cref="ViewCount"/>
/// extra views (a mirror image and/or random resized crops), each run through the backbone like an extra
/// training example. Views are a pure function of (<see cref="Seed"/>, image content, view index), so a
/// second fit reads them all from the feature cache.
/// </summary>
/// <remarks>
/// Views are fixed rather than redrawn every epoch because the backbone is frozen and the head trains on
/// cached features: a fresh crop per epoch would mean running the backbone every epoch, which is the cost
/// transfer learning on features exists to avoid.
/// </remarks>
public sealed record ImageAugmentation
{
    /// <summary>
    /// Adds the mirror image as a view, and mirrors each random crop with probability ½ (default true).
    /// Leave it off for classes that differ by handedness (text, arrows, left/right signs).
    /// </summary>
    public bool HorizontalFlip { get; init; } = true;
    /// <summary>Number of random resized crops per training image (default 0).</summary>
    public int RandomResizedCrops { get; init; }
    /// <summary>Smallest crop area as a fraction of the image (default 0.35).</summary>
    public float MinScale { get; init; } = 0.35f;
    /// <summary>Largest crop area as a fraction of the image (default 1).</summary>
    public float MaxScale { get; init; } = 1f;
    /// <summary>Smallest crop aspect ratio relative to the image's own (default 3/4).</summary>
    public float MinAspectRatio { get; init; } = 3f / 4f;
    /// <summary>Largest crop aspect ratio relative to the image's own (default 4/3).</summary>
    public float MaxAspectRatio { get; init; } = 4f / 3f;
    /// <summary>Seed of the crops (default 0). Independent of the training seed, so retraining with another seed reuses the cached views.</summary>
    public int Seed { get; init; }

    /// <summary>Extra views per training image: 1 for the mirror image (when <see cref="HorizontalFlip"/>) plus <see cref="RandomResizedCrops"/>.</summary>
    public int ViewCount => (HorizontalFlip ? 1 : 0) + RandomResizedCrops;

    /// <summary>Throws <see cref="MLTransferException"/> for settings that cannot produce views.</summary>
    public void Validate()
    {
        if (RandomResizedCrops < 0)
            throw new MLTransferException($"RandomResizedCrops is {RandomResizedCrops}", nameof(RandomResizedCrops), "Use 0 or more crops per image");
        if (!(MinScale > 0 && MinScale <= MaxScale && MaxScale <= 1))
            throw new MLTransferException($"Crop scale range [{MinScale}, {MaxScale}] is invalid", nameof(MinScale), "Use 0 < MinScale ≤ MaxScale ≤ 1 (fractions of the image area)");
        if (!(MinAspectRatio > 0 && MinAspectRatio <= MaxAspectRatio && float.IsFinite(MaxAspectRatio)))
            throw new MLTransferException($"Crop aspect range [{MinAspectRatio}, {MaxAspectRatio}] is invalid", nameof(MinAspectRatio), "Use 0 < MinAspectRatio ≤ MaxAspectRatio, e.g. 3/4 and 4/3");
    }

    /// <summary>
    /// Canonical text of everything that determines view <paramref name="index"/>, for the feature cache key.
    /// A crop's key does not depend on how many crops there are, so raising <see cref="RandomResizedCrops"/>
    /// reuses the crops already cached.
    /// </summary>
    public string ViewKey(int index)
    {
        CheckIndex(index);
        if (HorizontalFlip && index == 0)
            return ImageView.MirrorKey;
        return string.Create(CultureInfo.InvariantCulture,
            $"view-v1|rrc|seed={Seed}|scale={MinScale:R}-{MaxScale:R}|ratio={MinAspectRatio:R}-{MaxAspectRatio:R}|flip={(HorizontalFlip ? 1 : 0)}|crop={CropIndex(index)}");
    }

    /// <summary>The view <paramref name="index"/> (0 ≤ index &lt; <see cref="ViewCount"/>) of the image with this content hash.</summary>
    /// <param name="contentHash">SHA-256 of the image file's content (lower-case hex), as the feature cache keys it.</param>
    /// <param name="index">View index.</param>
    internal ImageView View(string contentHash, int index)
    {
        CheckIndex(index);
        if (HorizontalFlip && index == 0)
            return new ImageView(FlipHorizontal: true);
        // Uniform numbers from a SHA-256 of the view key and the content: stable across machines and .NET
        // versions (System.Random's sequence is not promised to be), and independent between views.
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes($"{ViewKey(index)}\n{contentHash.ToLowerInvariant()}"));
        double U(int k) => BinaryPrimitives.ReadUInt32LittleEndian(digest.AsSpan(4 * k)) / 4294967296.0;
        var scale = MinScale + U(0) * (MaxScale - MinScale);
        var ratio = Math.Exp(Math.Log(MinAspectRatio) + U(1) * (Math.Log(MaxAspectRatio) - Math.Log(MinAspectRatio)));
        // In relative units the image is the unit square, so area = w·h and the crop's aspect relative to the
        // image's is w / h.
        var w = Math.Min(1, Math.Sqrt(scale * ratio));
        var h = Math.Min(1, Math.Sqrt(scale / ratio));
        var crop = new RelativeRect((float)(U(2) * (1 - w)), (float)(U(3) * (1 - h)), (float)w, (float)h);
        return new ImageView(HorizontalFlip && U(4) < 0.5, crop);
    }

    private int CropIndex(int index) => HorizontalFlip ? index - 1 : index;

    private void CheckIndex(int index)
    {
        if (index < 0 || index >= ViewCount)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"Views are numbered 0..{ViewCount - 1}.");
    }
}
