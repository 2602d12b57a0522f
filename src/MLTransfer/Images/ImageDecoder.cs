using MLTransfer.Backbones;
using SkiaSharp;

namespace MLTransfer.Images;

/// <summary>
/// The one way images become pixels, shared by training and prediction so both see identical inputs.
/// </summary>
/// <remarks>
/// ML.NET's own image loading does not apply EXIF orientation, multiplies colours by alpha, silently
/// accepts truncated JPEGs and fails a whole pass on one bad file without naming it. This decoder fixes
/// each of those: it applies the orientation, flattens transparency onto white, refuses truncated or
/// unknown data with a named reason, and checks the declared size before decoding. It also resizes to
/// the backbone's input size here, so the ML.NET <c>ResizeImages</c> step in the saved model is an exact
/// no-op for images that come through this class.
/// </remarks>
public static class ImageDecoder
{
    /// <summary>Decodes a file into an opaque BGRA image of exactly <paramref name="width"/>×<paramref name="height"/>.</summary>
    /// <exception cref="ImageDecodeException">The file is missing, unreadable, not an image, corrupt or too large.</exception>
    public static DecodedImage DecodeFile(string path, int width, int height, ResizeMode mode, ImageDecodeOptions? options = null)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageDecodeException(e is FileNotFoundException or DirectoryNotFoundException ? "file not found" : $"cannot read file: {e.Message}", path, e);
        }
        return Decode(bytes, width, height, mode, options, path);
    }

    /// <summary>Decodes encoded image bytes (JPEG, PNG, BMP, GIF first frame, WebP) into an opaque BGRA image.</summary>
    /// <param name="encoded">The file's bytes.</param>
    /// <param name="width">Target width.</param>
    /// <param name="height">Target height.</param>
    /// <param name="mode">How the image is fitted into the target size.</param>
    /// <param name="options">Decoding limits.</param>
    /// <param name="source">Name used in error messages (a path, or null).</param>
    public static DecodedImage Decode(ReadOnlySpan<byte> encoded, int width, int height, ResizeMode mode, ImageDecodeOptions? options = null, string? source = null)
    {
        options ??= ImageDecodeOptions.Default;
        if (encoded.Length == 0)
            throw new ImageDecodeException("empty file", source);
        using var data = SKData.CreateCopy(encoded);
        using var codec = SKCodec.Create(data)
            ?? throw new ImageDecodeException("not a supported image (unrecognised content; expected JPEG, PNG, BMP, GIF or WebP)", source);
        var declared = codec.Info;
        if (declared.Width <= 0 || declared.Height <= 0)
            throw new ImageDecodeException("image declares no pixels", source);
        if ((long)declared.Width * declared.Height > options.MaxPixels)
            throw new ImageDecodeException(
                $"image declares {declared.Width}×{declared.Height} pixels, above the limit of {options.MaxPixels:N0} (possible decompression bomb; raise the pixel limit if the file is genuine)", source);

        using var full = DecodeScaled(codec, width, height, mode, source);
        using var oriented = Orient(full, codec.EncodedOrigin);
        return Fit(oriented ?? full, width, height, mode);
    }

    private static SKBitmap DecodeScaled(SKCodec codec, int width, int height, ResizeMode mode, string? source)
    {
        var (w, h) = (codec.Info.Width, codec.Info.Height);
        // JPEG can decode at 1/2, 1/4, 1/8 scale almost for free (like PIL's draft mode). Ask for the
        // smallest scale that still leaves at least twice the target resolution, so the final
        // high-quality downscale has enough pixels to average and quality is not lost.
        var rotated = codec.EncodedOrigin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        var (tw, th) = rotated ? (height, width) : (width, height);
        var need = mode == ResizeMode.IsoPad
            ? Math.Min(2.0 * tw / w, 2.0 * th / h)
            : Math.Max(2.0 * tw / w, 2.0 * th / h);
        var size = new SKSizeI(w, h);
        if (need < 1.0)
        {
            var scaled = codec.GetScaledDimensions((float)need);
            if (scaled.Width >= Math.Min(w, 2 * tw) && scaled.Height >= Math.Min(h, 2 * th) && scaled.Width > 0 && scaled.Height > 0)
                size = scaled;
        }
        var info = new SKImageInfo(size.Width, size.Height, SKColorType.Bgra8888, SKAlphaType.Premul);
        var bitmap = new SKBitmap(info);
        var result = codec.GetPixels(info, bitmap.GetPixels());
        if (result != SKCodecResult.Success)
        {
            bitmap.Dispose();
            throw new ImageDecodeException(result switch
            {
                SKCodecResult.IncompleteInput => "truncated image data (the file ends before the image does)",
                SKCodecResult.ErrorInInput => "corrupt image data",
                SKCodecResult.InvalidInput => "invalid image data",
                _ => $"decoder failed ({result})",
            }, source);
        }
        return bitmap;
    }

    private static SKBitmap? Orient(SKBitmap bitmap, SKEncodedOrigin origin)
    {
        if (origin is SKEncodedOrigin.TopLeft or 0)
            return null;
        var swap = origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        var (w, h) = swap ? (bitmap.Height, bitmap.Width) : (bitmap.Width, bitmap.Height);
        var result = new SKBitmap(new SKImageInfo(w, h, SKColorType.Bgra8888, SKAlphaType.Premul));
        using var canvas = new SKCanvas(result);
        // Each matrix maps the stored pixels onto the upright view described by the EXIF tag.
        var m = origin switch
        {
            SKEncodedOrigin.TopRight => new SKMatrix(-1, 0, w, 0, 1, 0, 0, 0, 1),
            SKEncodedOrigin.BottomRight => new SKMatrix(-1, 0, w, 0, -1, h, 0, 0, 1),
            SKEncodedOrigin.BottomLeft => new SKMatrix(1, 0, 0, 0, -1, h, 0, 0, 1),
            SKEncodedOrigin.LeftTop => new SKMatrix(0, 1, 0, 1, 0, 0, 0, 0, 1),
            SKEncodedOrigin.RightTop => new SKMatrix(0, -1, w, 1, 0, 0, 0, 0, 1),
            SKEncodedOrigin.RightBottom => new SKMatrix(0, -1, w, -1, 0, h, 0, 0, 1),
            SKEncodedOrigin.LeftBottom => new SKMatrix(0, 1, 0, -1, 0, h, 0, 0, 1),
            _ => SKMatrix.Identity,
        };
        canvas.SetMatrix(m);
        canvas.DrawBitmap(bitmap, 0, 0);
        return result;
    }

    private static DecodedImage Fit(SKBitmap source, int width, int height, ResizeMode mode)
    {
        var (sw, sh) = ((float)source.Width, (float)source.Height);
        var src = new SKRect(0, 0, sw, sh);
        var dst = new SKRect(0, 0, width, height);
        switch (mode)
        {
            case ResizeMode.IsoCrop:
            {
                var scale = Math.Max(width / sw, height / sh);
                var (cw, ch) = (width / scale, height / scale);
                src = SKRect.Create((sw - cw) / 2, (sh - ch) / 2, cw, ch);
                break;
            }
            case ResizeMode.IsoPad:
            {
                var scale = Math.Min(width / sw, height / sh);
                var (dw, dh) = (sw * scale, sh * scale);
                dst = SKRect.Create((width - dw) / 2, (height - dh) / 2, dw, dh);
                break;
            }
        }
        var info = new SKImageInfo(width, height, SKColorType.Bgra8888, SKAlphaType.Premul);
        using var target = new SKBitmap(info);
        using (var canvas = new SKCanvas(target))
        {
            // Transparent pixels become white (how people see them on a page) rather than black; pad
            // bands of IsoPad stay black, as in ML.NET.
            canvas.Clear(mode == ResizeMode.IsoPad ? SKColors.Black : SKColors.White);
            if (mode == ResizeMode.IsoPad)
                using (var white = new SKPaint { Color = SKColors.White })
                    canvas.DrawRect(dst, white);
            using var paint = new SKPaint { FilterQuality = SKFilterQuality.High, IsAntialias = false };
            canvas.DrawBitmap(source, src, dst, paint);
        }
        return new DecodedImage(width, height, target.GetPixelSpan().ToArray());
    }
}
