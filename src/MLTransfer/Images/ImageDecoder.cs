using SkiaSharp;

namespace MLTransfer.Images;

/// <summary>
/// How MLTransfer turns image files into pixels, shared by <c>train</c>, <c>finetune</c> and prediction so
/// they see identical inputs. (The estimator's saved chains decode with ML.NET's own image steps instead,
/// and its training uses those same steps.)
/// </summary>
/// <remarks>
/// ML.NET's own image loading does not apply EXIF orientation, multiplies colours by alpha, silently
/// accepts truncated JPEGs and fails a whole pass on one bad file without naming it. This decoder fixes
/// each of those: it applies the orientation, flattens transparency onto white, refuses truncated or
/// unknown data with a named reason, and checks the declared size before decoding. It also resizes to
/// the backbone's input size here, so the ML.NET <c>ResizeImages</c> step in the saved model is an exact
/// no-op for images that come through this class.
/// </remarks>
internal static class ImageDecoder
{
    private static long _filesRead;

    /// <summary>Image files this process has read so far (a test checks that a warm run reads none).</summary>
    internal static long FilesRead => Interlocked.Read(ref _filesRead);

    /// <summary>Decodes a file into an opaque BGRA image of exactly <paramref name="width"/>×<paramref name="height"/>.</summary>
    /// <exception cref="ImageDecodeException">The file is missing, unreadable, not an image, corrupt or too large.</exception>
    /// <param name="path">Image file.</param>
    /// <param name="width">Target width.</param>
    /// <param name="height">Target height.</param>
    /// <param name="mode">How the image (or the view's crop) is fitted into the target size.</param>
    /// <param name="options">Decoding limits.</param>
    /// <param name="view">Augmentation transform, or null for the image as it is (the prediction path).</param>
    public static DecodedImage DecodeFile(string path, int width, int height, ResizeMode mode, ImageDecodeOptions? options = null, ImageView? view = null)
    {
        options ??= ImageDecodeOptions.Default;
        return Decode(ReadFile(path, options), width, height, mode, options, path, view);
    }

    /// <summary>
    /// Reads an image file after checking what it is: a folder, a FIFO or device (which report size 0 and could
    /// block or never end), or a file over <see cref="ImageDecodeOptions.MaxFileBytes"/> is refused unread.
    /// </summary>
    /// <exception cref="ImageDecodeException">Missing, not a regular file, too large, or unreadable.</exception>
    public static byte[] ReadFile(string path, ImageDecodeOptions? options = null)
    {
        options ??= ImageDecodeOptions.Default;
        Interlocked.Increment(ref _filesRead);
        try
        {
            if (Directory.Exists(path))
                throw new ImageDecodeException("is a folder, not an image file", path);
            var info = new FileInfo(path);
            if (!info.Exists)
                throw new ImageDecodeException("file not found", path);
            if (info.Length == 0)
                throw new ImageDecodeException("empty file (or not a regular file)", path);
            if (info.Length > options.MaxFileBytes)
                throw new ImageDecodeException($"file is {info.Length:N0} bytes, above the limit of {options.MaxFileBytes:N0} for an image", path);
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            // The file may grow between the check and the read; never read past the limit.
            var bytes = new byte[Math.Min(info.Length, options.MaxFileBytes)];
            var read = stream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
            return read == bytes.Length ? bytes : bytes[..read];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageDecodeException(e is FileNotFoundException or DirectoryNotFoundException ? "file not found" : $"cannot read file: {e.Message}", path, e);
        }
    }

    /// <summary>Decodes encoded image bytes (JPEG, PNG, BMP, GIF first frame, WebP) into an opaque BGRA image.</summary>
    /// <param name="encoded">The file's bytes.</param>
    /// <param name="width">Target width.</param>
    /// <param name="height">Target height.</param>
    /// <param name="mode">How the image is fitted into the target size.</param>
    /// <param name="options">Decoding limits.</param>
    /// <param name="source">Name used in error messages (a path, or null).</param>
    /// <param name="view">
    /// Augmentation transform, or null for the image as it is. A crop is taken from the upright image and
    /// fitted by <paramref name="mode"/> as the whole image would be; a flip mirrors the fitted result, so
    /// its pixels are exactly the mirrored pixels of the same view without the flip.
    /// </param>
    public static DecodedImage Decode(ReadOnlySpan<byte> encoded, int width, int height, ResizeMode mode, ImageDecodeOptions? options = null, string? source = null,
        ImageView? view = null)
    {
        view?.Crop?.Validate();
        options ??= ImageDecodeOptions.Default;
        using var codec = OpenCodec(encoded, options, source, out var data);
        using var _ = data;

        var crop = view?.Crop;
        using var upright = Upright(DecodeScaled(codec, data, Plan(codec, encoded, width, height, mode, crop), source), codec.EncodedOrigin);
        // The default path (no crop) keeps its original call so its pixels stay bit-identical.
        var image = crop is { } c
            ? Fit(upright, width, height, mode, SKRect.Create(c.X * upright.Width, c.Y * upright.Height, c.Width * upright.Width, c.Height * upright.Height))
            : Fit(upright, width, height, mode);
        return view?.FlipHorizontal == true ? Mirror(image) : image;
    }

    /// <summary>
    /// Decodes encoded bytes at their own size: EXIF orientation applied, transparency flattened onto white,
    /// the same checks as <see cref="Decode"/>, but no resizing. For chains where ML.NET's <c>ResizeImages</c>
    /// does the resizing (a model that takes raw image bytes).
    /// </summary>
    /// <exception cref="ImageDecodeException">Not a usable image.</exception>
    public static DecodedImage DecodeUpright(ReadOnlySpan<byte> encoded, ImageDecodeOptions? options = null, string? source = null)
    {
        options ??= ImageDecodeOptions.Default;
        using var codec = OpenCodec(encoded, options, source, out var data);
        using (data)
        {
            using var upright = Upright(DecodeScaled(codec, data, new DecodePlan(codec.Info.Size), source), codec.EncodedOrigin);
            // Drawn at its own size the bitmap is copied pixel for pixel; the draw only flattens alpha.
            return Fit(upright, upright.Width, upright.Height, ResizeMode.Fill);
        }
    }

    private static DecodedImage Mirror(DecodedImage image)
    {
        var (w, h) = (image.Width, image.Height);
        var source = image.Bgra;
        var result = new byte[source.Length];
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
                Buffer.BlockCopy(source, 4 * (y * w + x), result, 4 * (y * w + w - 1 - x), 4);
        return new DecodedImage(w, h, result);
    }

    /// <summary>Opens a codec over a copy of the bytes after checking they are an image of an accepted format and allowed size.</summary>
    private static SKCodec OpenCodec(ReadOnlySpan<byte> encoded, ImageDecodeOptions options, string? source, out SKData data)
    {
        if (encoded.Length == 0)
            throw new ImageDecodeException("empty file", source);
        // Skia would also decode formats such as WBMP, whose near-empty header random bytes can match.
        if (ImageFormat.Detect(encoded) is null)
            throw new ImageDecodeException(ImageFormat.NotAcceptedReason, source);
        data = SKData.CreateCopy(encoded);
        var codec = SKCodec.Create(data);
        if (codec is null)
        {
            data.Dispose();
            throw new ImageDecodeException(ImageFormat.NotAcceptedReason, source);
        }
        // Belt and braces: the codec Skia chose must be one of the accepted formats too.
        if (codec.EncodedFormat is not (SKEncodedImageFormat.Jpeg or SKEncodedImageFormat.Png or SKEncodedImageFormat.Bmp
            or SKEncodedImageFormat.Gif or SKEncodedImageFormat.Webp))
        {
            codec.Dispose();
            data.Dispose();
            throw new ImageDecodeException(ImageFormat.NotAcceptedReason, source);
        }
        var declared = codec.Info;
        string? problem = declared.Width <= 0 || declared.Height <= 0 ? "image declares no pixels"
            : (long)declared.Width * declared.Height > options.MaxPixels
                ? $"image declares {declared.Width}×{declared.Height} pixels, above the limit of {options.MaxPixels:N0} (possible decompression bomb; raise the pixel limit if the file is genuine)"
                : null;
        if (problem is not null)
        {
            codec.Dispose();
            data.Dispose();
            throw new ImageDecodeException(problem, source);
        }
        return codec;
    }

    /// <summary>
    /// Estimates the native memory that <see cref="Decode"/> of these bytes holds at its peak, from the
    /// header alone (no pixel is decoded), so a server can refuse or delay a request before committing it.
    /// </summary>
    /// <returns>Bytes of decoded pixels (bitmaps and mipmaps) at the peak; 0 for bytes that
    /// <see cref="Decode"/> refuses before allocating pixels (not an image, no pixels, over the pixel limit).</returns>
    public static long EstimateDecodeBytes(ReadOnlySpan<byte> encoded, int width, int height, ResizeMode mode, ImageDecodeOptions? options = null)
    {
        options ??= ImageDecodeOptions.Default;
        if (encoded.Length == 0)
            return 0;
        using var data = SKData.CreateCopy(encoded);
        using var codec = SKCodec.Create(data);
        if (codec is null || codec.Info.Width <= 0 || codec.Info.Height <= 0 || (long)codec.Info.Width * codec.Info.Height > options.MaxPixels)
            return 0;
        var plan = Plan(codec, encoded, width, height, mode, null);
        var bitmap = 4L * plan.Size.Width * plan.Size.Height;
        // Fit's mipmapped draw adds a third of the bitmap; rotating holds the stored and the upright copy
        // at once instead (the stored one is released before the draw). The target is small but counted,
        // and so are the rows a row-by-row decode keeps (two filtered rows, one expanded, the block sums).
        var peak = IsRotatedOrFlipped(codec.EncodedOrigin) ? 2 * bitmap : bitmap + bitmap / 3;
        var rows = plan.Rows is { } r ? 2 * (r.RowBytes + 1) + 4L * r.Width + 8L * 4 * plan.Size.Width : 0;
        var interlace = (long)PngRowReducer.InterlaceBytesPerPixel(encoded) * codec.Info.Width * codec.Info.Height;
        return peak + rows + interlace + 2 * 4L * width * height;
    }

    private static bool IsRotatedOrFlipped(SKEncodedOrigin origin) => origin is not (SKEncodedOrigin.TopLeft or 0);

    /// <summary>
    /// Applies the EXIF orientation. The stored pixels are released as soon as the upright copy exists, so a
    /// large rotated image never holds both copies and the resize's mipmaps at once.
    /// </summary>
    private static SKBitmap Upright(SKBitmap stored, SKEncodedOrigin origin)
    {
        try
        {
            var oriented = Orient(stored, origin);
            if (oriented is null)
                return stored;
            stored.Dispose();
            return oriented;
        }
        catch
        {
            stored.Dispose();
            throw;
        }
    }

    /// <summary>
    /// PNGs with more pixels than this are decoded row by row into blocks averaged on the fly
    /// (<see cref="PngRowReducer"/>), when the target is small enough for blocks of at least 2×2. Smaller PNGs
    /// keep Skia's decode, and with it their pixels; at this size the server's decode budget affords a few
    /// full bitmaps at once.
    /// </summary>
    internal const long RowReducedAbovePixels = 16L * 1024 * 1024;

    /// <summary>How an image is decoded: at <paramref name="Size"/> by Skia, or, with <paramref name="Rows"/>, by averaging <paramref name="Box"/>×<paramref name="Box"/> blocks.</summary>
    private sealed record DecodePlan(SKSizeI Size, PngRowReducer.Header? Rows = null, int Box = 1);

    private static DecodePlan Plan(SKCodec codec, ReadOnlySpan<byte> encoded, int width, int height, ResizeMode mode, RelativeRect? crop)
    {
        var (w, h) = (codec.Info.Width, codec.Info.Height);
        var (tw, th) = StoredTarget(codec, width, height, crop);
        if (codec.EncodedFormat == SKEncodedImageFormat.Png && (long)w * h > RowReducedAbovePixels)
        {
            // Blocks no larger than leave twice the target resolution, as the JPEG draft scale below.
            var box = Math.Min(w / (2 * tw), h / (2 * th));
            if (box >= 2 && PngRowReducer.ReadHeader(encoded) is { } rows && rows.Width == w && rows.Height == h)
                return new DecodePlan(new SKSizeI((w + box - 1) / box, (h + box - 1) / box), rows, box);
        }
        return new DecodePlan(DecodeSize(codec, tw, th, mode));
    }

    private static SKBitmap DecodeScaled(SKCodec codec, SKData data, DecodePlan plan, string? source)
    {
        if (plan.Rows is { } rows)
            return PngRowReducer.Decode(data, rows, plan.Box, source);
        var info = new SKImageInfo(plan.Size.Width, plan.Size.Height, SKColorType.Bgra8888, SKAlphaType.Premul);
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

    /// <summary>The resolution the decode must keep, in the stored (not yet oriented) frame.</summary>
    private static (int Width, int Height) StoredTarget(SKCodec codec, int width, int height, RelativeRect? crop)
    {
        var rotated = codec.EncodedOrigin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        var (tw, th) = rotated ? (height, width) : (width, height);
        if (crop is { } c)
        {
            // A crop is enlarged to the target, so the whole image must be decoded at the target size divided
            // by the crop's share of each side (in stored orientation) to keep the same detail.
            var (fw, fh) = rotated ? (c.Height, c.Width) : (c.Width, c.Height);
            (tw, th) = ((int)Math.Ceiling(tw / fw), (int)Math.Ceiling(th / fh));
        }
        return (tw, th);
    }

    /// <summary>The size to decode at: the full size, or a cheaper scale the codec offers (JPEG, WebP).</summary>
    private static SKSizeI DecodeSize(SKCodec codec, int tw, int th, ResizeMode mode)
    {
        var (w, h) = (codec.Info.Width, codec.Info.Height);
        // JPEG can decode at 1/2, 1/4, 1/8 scale almost for free (like PIL's draft mode), WebP at any scale. Ask for the
        // smallest scale that still leaves at least twice the target resolution, so the final
        // downscale (mipmapped bilinear) has enough pixels to average and quality is not lost.
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
        return size;
    }

    private static SKBitmap? Orient(SKBitmap bitmap, SKEncodedOrigin origin)
    {
        if (!IsRotatedOrFlipped(origin))
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
        // Skia copies a mutable bitmap before drawing it (a whole second copy of a large image); an immutable
        // one is drawn from its own pixels, with identical results.
        bitmap.SetImmutable();
        canvas.DrawBitmap(bitmap, 0, 0);
        return result;
    }

    private static DecodedImage Fit(SKBitmap source, int width, int height, ResizeMode mode) =>
        Fit(source, width, height, mode, new SKRect(0, 0, source.Width, source.Height));

    /// <summary>Fits <paramref name="region"/> of <paramref name="source"/> into the target size.</summary>
    private static DecodedImage Fit(SKBitmap source, int width, int height, ResizeMode mode, SKRect region)
    {
        var (sw, sh) = (region.Width, region.Height);
        var src = region;
        var dst = new SKRect(0, 0, width, height);
        switch (mode)
        {
            case ResizeMode.IsoCrop:
                {
                    var scale = Math.Max(width / sw, height / sh);
                    var (cw, ch) = (width / scale, height / scale);
                    src = SKRect.Create(region.Left + (sw - cw) / 2, region.Top + (sh - ch) / 2, cw, ch);
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
            // Medium (mipmapped bilinear) rather than High (bicubic): markedly faster at no cost in accuracy
            // (docs/design-notes.md). The draft decode above keeps the ratio small.
            using var paint = new SKPaint { FilterQuality = SKFilterQuality.Medium, IsAntialias = false };
            // Without this Skia draws from a copy of the source: for a 9999×9999 PNG that was 381 MiB on top
            // of the 381 MiB bitmap and its 127 MiB of mipmaps. The pixels drawn are the same.
            source.SetImmutable();
            canvas.DrawBitmap(source, src, dst, paint);
        }
        return new DecodedImage(width, height, target.GetPixelSpan().ToArray());
    }
}
