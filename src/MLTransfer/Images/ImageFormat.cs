namespace MLTransfer.Images;

/// <summary>
/// Recognises the image formats MLTransfer accepts (JPEG, PNG, BMP, GIF, WebP) by their first bytes, whatever
/// the file name or the claimed content type says. <see cref="ImageDecoder"/> refuses anything else, so
/// training, prediction and the service accept exactly the same files.
/// </summary>
/// <remarks>
/// The decoder underneath (Skia) also reads formats nobody means as a photo, such as WBMP, whose header is
/// little more than two zero bytes and a size: 36 random bytes starting <c>00 00 10 10</c> are a valid
/// 16×16 WBMP, so without this check such a file named <c>.jpg</c> would be trained on as an image.
/// </remarks>
internal static class ImageFormat
{
    /// <summary>The accepted formats as a phrase for messages: <c>JPEG, PNG, BMP, GIF or WebP</c>.</summary>
    public const string AcceptedFormats = "JPEG, PNG, BMP, GIF or WebP";

    /// <summary>The skip reason for content that is none of them.</summary>
    internal const string NotAcceptedReason = $"not a supported image (its content is not {AcceptedFormats}, the formats accepted; the file name does not matter)";

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
