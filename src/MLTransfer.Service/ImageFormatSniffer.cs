namespace MLTransfer.Service;

/// <summary>
/// Recognises image formats by their first bytes, so non-images are refused (415) before the decoder sees
/// them, whatever Content-Type or file name the client claimed.
/// </summary>
public static class ImageFormatSniffer
{
    /// <summary>The format name (<c>jpeg</c>, <c>png</c>, <c>gif</c>, <c>bmp</c>, <c>webp</c>) or null when none matches.</summary>
    public static string? Detect(ReadOnlySpan<byte> data)
    {
        if (data.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xD8, 0xFF]))
            return "jpeg";
        if (data.StartsWith((ReadOnlySpan<byte>)[0x89, 0x50, 0x4E, 0x47]))
            return "png";
        if (data.StartsWith("GIF8"u8))
            return "gif";
        if (data.StartsWith("BM"u8))
            return "bmp";
        if (data.Length >= 12 && data.StartsWith("RIFF"u8) && data.Slice(8, 4).SequenceEqual("WEBP"u8))
            return "webp";
        return null;
    }
}
