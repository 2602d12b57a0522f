using Microsoft.ML.Data;
using SkiaSharp;

namespace MLTransfer.Images;

/// <summary>
/// Decodes encoded bytes exactly as ML.NET's <c>LoadImages</c> decodes a file (SkiaSharp, as stored: no EXIF
/// orientation, no resizing), for models whose saved chain starts with <c>LoadImages</c>: predicting from
/// bytes then gives the scores a plain <c>Model.Load</c> app gets from the file's path. The same format and
/// size checks as <see cref="ImageDecoder"/> come first, so no file is accepted here that training refuses.
/// </summary>
internal static class MLNetImageLoading
{
    /// <summary>The image at its own size, as BGRA bytes.</summary>
    /// <exception cref="ImageDecodeException">Not an accepted format, too many pixels, or undecodable.</exception>
    public static DecodedImage Decode(byte[] encoded, ImageDecodeOptions? options = null, string? source = null)
    {
        options ??= ImageDecodeOptions.Default;
        if (ImageFormat.Detect(encoded) is null)
            throw new ImageDecodeException(ImageFormat.NotAcceptedReason, source);
        using (var data = SKData.CreateCopy(encoded))
        using (var codec = SKCodec.Create(data))
        {
            if (codec is null || codec.Info.Width <= 0 || codec.Info.Height <= 0)
                throw new ImageDecodeException("corrupt or truncated image data", source);
            if ((long)codec.Info.Width * codec.Info.Height > options.MaxPixels)
                throw new ImageDecodeException($"{codec.Info.Width}×{codec.Info.Height} is more than the limit of {options.MaxPixels:N0} pixels", source);
        }
        MLImage image;
        try
        {
            // LoadImages calls MLImage.CreateFromFile, which decodes with SKBitmap.Decode as this does from a stream.
            image = MLImage.CreateFromStream(new MemoryStream(encoded, writable: false));
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            throw new ImageDecodeException($"ML.NET could not decode the image: {e.Message}", source, e);
        }
        using (image)
        {
            var pixels = image.Pixels.ToArray();
            if (image.PixelFormat == MLPixelFormat.Rgba32)
                for (var i = 0; i < pixels.Length; i += 4)
                    (pixels[i], pixels[i + 2]) = (pixels[i + 2], pixels[i]);
            return new DecodedImage(image.Width, image.Height, pixels);
        }
    }
}
