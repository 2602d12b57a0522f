using MLTransfer.Images;
using NUnit.Framework;
using SkiaSharp;
using static MLTransfer.Tests.Fixtures.GeneratedPng;

namespace MLTransfer.Tests.Images;

/// <summary>
/// Large PNGs are decoded row by row into averaged blocks instead of a full-size bitmap: the pixels agree with
/// Skia's, the memory estimate follows the path taken, and broken data is still refused with a reason.
/// </summary>
public class LargePngDecodeTests
{
    /// <summary>Skia's decode of the whole image, premultiplied BGRA (what the decoder used for every PNG before).</summary>
    private static byte[] SkiaPixels(byte[] png)
    {
        using var bitmap = DecodeWithCodec(png);
        return bitmap.GetPixelSpan().ToArray();
    }

    private static SKBitmap DecodeWithCodec(byte[] png)
    {
        using var codec = SKCodec.Create(new MemoryStream(png));
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Bgra8888, SKAlphaType.Premul);
        var bitmap = new SKBitmap(info);
        Assert.That(codec.GetPixels(info, bitmap.GetPixels()), Is.EqualTo(SKCodecResult.Success));
        return bitmap;
    }

    private static byte[] BoxAverage(byte[] bgra, int w, int h, int box)
    {
        var (rw, rh) = ((w + box - 1) / box, (h + box - 1) / box);
        var result = new byte[4 * rw * rh];
        for (var by = 0; by < rh; by++)
            for (var bx = 0; bx < rw; bx++)
                for (var c = 0; c < 4; c++)
                {
                    long sum = 0, n = 0;
                    for (var y = by * box; y < Math.Min(h, (by + 1) * box); y++)
                        for (var x = bx * box; x < Math.Min(w, (bx + 1) * box); x++, n++)
                            sum += bgra[4 * (y * w + x) + c];
                    result[4 * (by * rw + bx) + c] = (byte)((sum + n / 2) / n);
                }
        return result;
    }

    private static byte[] Random(int seed, int length)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    [TestCase(ColorType.Gray, 1, false)]
    [TestCase(ColorType.Gray, 2, false)]
    [TestCase(ColorType.Gray, 4, false)]
    [TestCase(ColorType.Gray, 8, false)]
    [TestCase(ColorType.Gray, 8, true)]
    [TestCase(ColorType.Gray, 16, false)]
    [TestCase(ColorType.Rgb, 8, false)]
    [TestCase(ColorType.Rgb, 8, true)]
    [TestCase(ColorType.Rgb, 16, false)]
    [TestCase(ColorType.Palette, 1, false)]
    [TestCase(ColorType.Palette, 4, true)]
    [TestCase(ColorType.Palette, 8, true)]
    [TestCase(ColorType.GrayAlpha, 8, false)]
    [TestCase(ColorType.GrayAlpha, 16, false)]
    [TestCase(ColorType.Rgba, 8, false)]
    [TestCase(ColorType.Rgba, 16, false)]
    public void Row_reducer_gives_Skias_pixels_averaged_over_blocks(ColorType type, int depth, bool transparency)
    {
        // Odd sizes leave partial blocks at the right and bottom edges.
        const int w = 203, h = 157, box = 4;
        var channels = type switch { ColorType.Gray or ColorType.Palette => 1, ColorType.Rgb => 3, ColorType.GrayAlpha => 2, _ => 4 };
        var rowBytes = (w * channels * depth + 7) / 8;
        var pixels = Random(depth * 10 + (int)type, rowBytes * h);
        // Repeat a few rows and runs so transparent colour keys actually occur.
        for (var y = 0; y < h; y += 7)
            pixels.AsSpan(0, rowBytes).CopyTo(pixels.AsSpan(y * rowBytes));
        byte[]? palette = type == ColorType.Palette ? Random(7, 3 * (1 << depth)) : null;
        byte[]? trns = !transparency ? null
            : type == ColorType.Palette ? Random(8, (1 << depth) / 2)
            : type == ColorType.Gray ? [0, pixels[0]]
            : [0, pixels[0], 0, pixels[1], 0, pixels[2]];
        var png = Encode(w, h, type, depth, (y, row) => pixels.AsSpan(y * rowBytes, rowBytes).CopyTo(row), palette, trns);

        var header = PngRowReducer.ReadHeader(png);
        Assert.That(header, Is.Not.Null);
        using var data = SKData.CreateCopy(png);
        using var reduced = PngRowReducer.Decode(data, header!, box, null);
        Assert.That((reduced.Width, reduced.Height), Is.EqualTo((51, 40)));

        var expected = BoxAverage(SkiaPixels(png), w, h, box);
        var actual = reduced.GetPixelSpan().ToArray();
        var worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.That(worst, Is.LessThanOrEqualTo(1), "off by at most one level of rounding");
        if (transparency)
            Assert.That(Enumerable.Range(0, actual.Length / 4).Any(i => actual[4 * i + 3] < 255), Is.True, "the transparency chunk was applied");
    }

    [Test]
    public void Interlaced_or_malformed_headers_are_left_to_Skia()
    {
        Assert.That(PngRowReducer.ReadHeader(Solid(64, 64, 1, 2, 3, interlaced: true)), Is.Null);
        Assert.That(PngRowReducer.InterlaceBytesPerPixel(Solid(64, 64, 1, 2, 3, interlaced: true)), Is.EqualTo(3));
        Assert.That(PngRowReducer.InterlaceBytesPerPixel(Solid(64, 64, 1, 2, 3)), Is.Zero);
        Assert.That(PngRowReducer.ReadHeader("not a png at all, just some text"u8), Is.Null);
    }

    /// <summary>A smooth picture with hard edges, large enough (5000×3600 = 18 MP) for the row-by-row path.</summary>
    private static byte[] LargePicture(int w = 5000, int h = 3600) => Encode(w, h, ColorType.Rgb, 8, (y, row) =>
    {
        for (var x = 0; x < w; x++)
        {
            var stripe = (x / 700 + y / 500) % 2 == 0;
            (row[3 * x], row[3 * x + 1], row[3 * x + 2]) = ((byte)(255 * x / w), (byte)(255 * y / h), (byte)(stripe ? 220 : 30));
        }
    });

    [Test]
    public void Large_png_decoded_row_by_row_looks_like_the_full_decode()
    {
        var png = LargePicture();
        Assert.That(5000L * 3600, Is.GreaterThan(ImageDecoder.RowReducedAbovePixels));
        var decoded = ImageDecoder.Decode(png, 192, 192, ResizeMode.Fill);

        // What the decoder did before: Skia's full-size bitmap drawn with the same filter.
        using var full = DecodeWithCodec(png);
        full.SetImmutable();
        using var target = new SKBitmap(new SKImageInfo(192, 192, SKColorType.Bgra8888, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(target))
        {
            canvas.Clear(SKColors.White);
            using var paint = new SKPaint { FilterQuality = SKFilterQuality.Medium, IsAntialias = false };
            canvas.DrawBitmap(full, new SKRect(0, 0, full.Width, full.Height), new SKRect(0, 0, 192, 192), paint);
        }
        var before = target.GetPixelSpan().ToArray();
        var diffs = before.Zip(decoded.Bgra, (b, a) => Math.Abs(b - a)).ToArray();
        TestContext.Out.WriteLine($"mean |difference| {diffs.Average():F2}, max {diffs.Max()} (0..255)");
        Assert.That(diffs.Average(), Is.LessThan(1.5), "a block average then the mipmapped resize matches the resize of the full image");
        Assert.That(diffs.Max(), Is.LessThan(64), "only pixels on the stripes' edges may differ noticeably");
    }

    [Test]
    public void Estimate_follows_the_path_the_decode_takes()
    {
        // Row by row: a 9999×9999 PNG costs its reduced bitmap and a few rows, not 381 MiB.
        var huge = Solid(9999, 9999, 200, 60, 30);
        Assert.That(ImageDecoder.EstimateDecodeBytes(huge, 192, 192, ResizeMode.IsoCrop), Is.LessThan(4L << 20));
        // Just under the row-by-row threshold: the full bitmap and a third more for mipmaps.
        var big = Solid(4000, 4000, 1, 2, 3);
        Assert.That(ImageDecoder.EstimateDecodeBytes(big, 192, 192, ResizeMode.IsoCrop), Is.EqualTo(4L * 4000 * 4000 * 4 / 3).Within(1L << 20));
        // Interlaced: Skia also keeps the stored rows (3 bytes a pixel here).
        var interlaced = Solid(4000, 4000, 1, 2, 3, interlaced: true);
        Assert.That(ImageDecoder.EstimateDecodeBytes(interlaced, 192, 192, ResizeMode.IsoCrop), Is.EqualTo(4L * 4000 * 4000 * 4 / 3 + 3L * 4000 * 4000).Within(1L << 20));
        // JPEG's draft decode: a 2000×1600 photo is decoded at 1/4 for a 192×192 input.
        using var bitmap = new SKBitmap(2000, 1600);
        bitmap.Erase(SKColors.Teal);
        using var image = SKImage.FromBitmap(bitmap);
        var jpeg = image.Encode(SKEncodedImageFormat.Jpeg, 80).ToArray();
        Assert.That(ImageDecoder.EstimateDecodeBytes(jpeg, 192, 192, ResizeMode.IsoCrop), Is.EqualTo(4L * 500 * 400 * 4 / 3).Within(1L << 20));
        // Refused before decoding: no cost.
        Assert.That(ImageDecoder.EstimateDecodeBytes("text"u8, 192, 192, ResizeMode.IsoCrop), Is.Zero);
        Assert.That(ImageDecoder.EstimateDecodeBytes(huge, 192, 192, ResizeMode.IsoCrop, new ImageDecodeOptions { MaxPixels = 1000 }), Is.Zero);
    }

    [Test]
    public void Huge_single_colour_png_decodes_to_its_colour()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var png = Solid(9999, 9999, 200, 60, 30);
        TestContext.Out.WriteLine($"generate {clock.ElapsedMilliseconds} ms");
        clock.Restart();
        var decoded = ImageDecoder.Decode(png, 192, 192, ResizeMode.IsoCrop);
        TestContext.Out.WriteLine($"decode {clock.ElapsedMilliseconds} ms");
        Assert.That(Enumerable.Range(0, 192 * 192).All(i => decoded.Bgra.AsSpan(4 * i, 4).SequenceEqual(new byte[] { 30, 60, 200, 255 })), Is.True);
    }

    [Test]
    public void Truncated_or_corrupt_large_png_is_refused_with_the_reason()
    {
        var png = LargePicture();
        var truncated = ImageDecodeError(png[..(png.Length / 2)]);
        Assert.That(truncated, Does.Contain("truncated"));

        // Flip bytes in the middle of the compressed data (keeping the chunk structure).
        var corrupt = (byte[])png.Clone();
        for (var i = png.Length / 2; i < png.Length / 2 + 64; i++)
            corrupt[i] ^= 0x5A;
        Assert.That(ImageDecodeError(corrupt), Does.Contain("corrupt").Or.Contain("truncated"));
    }

    private static string ImageDecodeError(byte[] png)
    {
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(png, 192, 192, ResizeMode.Fill));
        return e!.Reason;
    }
}
