namespace MLTransfer.Images;

/// <summary>Limits applied while decoding untrusted image files.</summary>
public sealed record ImageDecodeOptions
{
    /// <summary>Default limit: 100 megapixels, well above any camera photo, far below a decompression bomb.</summary>
    public const long DefaultMaxPixels = 100_000_000;

    /// <summary>
    /// Images whose header declares more pixels than this are refused before any pixel is decoded, so a
    /// tiny file claiming 30000×30000 pixels cannot exhaust memory.
    /// </summary>
    public long MaxPixels { get; init; } = DefaultMaxPixels;

    /// <summary>Default limit on an encoded image file: far above any camera photo.</summary>
    public const long DefaultMaxFileBytes = 256L << 20;

    /// <summary>Image files larger than this are refused before they are read.</summary>
    public long MaxFileBytes { get; init; } = DefaultMaxFileBytes;

    /// <summary>Shared default instance.</summary>
    public static ImageDecodeOptions Default { get; } = new();
}
