using System.Diagnostics;
using MLTransfer.Images;
using NUnit.Framework;
using SkiaSharp;

namespace MLTransfer.Tests.Robustness;

/// <summary>
/// Each hostile image format through <see cref="ImageDecoder"/>, the decoder both training and prediction
/// use: usable files give the right pixels, unusable ones a named reason — never a crash or wrong pixels.
/// </summary>
public class HostileImageTests
{
    private static (byte R, byte G, byte B) Pixel(DecodedImage image, int x, int y)
    {
        var o = (y * image.Width + x) * 4;
        return (image.Bgra[o + 2], image.Bgra[o + 1], image.Bgra[o]);
    }

    private static void AssertColour((byte R, byte G, byte B) actual, SKColor expected, int tolerance, string what)
    {
        Assert.That(Math.Abs(actual.R - expected.Red), Is.LessThanOrEqualTo(tolerance), $"{what}: red {actual} vs {expected}");
        Assert.That(Math.Abs(actual.G - expected.Green), Is.LessThanOrEqualTo(tolerance), $"{what}: green {actual} vs {expected}");
        Assert.That(Math.Abs(actual.B - expected.Blue), Is.LessThanOrEqualTo(tolerance), $"{what}: blue {actual} vs {expected}");
    }

    [TestCase(1), TestCase(2), TestCase(3), TestCase(4), TestCase(5), TestCase(6), TestCase(7), TestCase(8)]
    public void ExifOrientation_IsAppliedAsTheTagDefines(int orientation)
    {
        // Stored 4×2 grid of 16-pixel cells (64×32), every cell a different colour: any wrong flip or
        // rotation moves at least one colour to a cell where it does not belong.
        const int cell = 16, cols = 4, rows = 2;
        using var grid = HostileFiles.Grid(cols, rows, cell);
        var jpeg = HostileFiles.WithExifOrientation(HostileFiles.Encode(grid, SKEncodedImageFormat.Jpeg, 100), orientation);
        var (w, h) = (cols * cell, rows * cell);
        var (uw, uh) = orientation >= 5 ? (h, w) : (w, h);

        // Decoding at the upright size makes the resize an identity, so each pixel can be traced back.
        var decoded = ImageDecoder.Decode(jpeg, uw, uh, ResizeMode.Fill);

        for (var y = cell / 2; y < uh; y += cell)
            for (var x = cell / 2; x < uw; x += cell)
            {
                var (sx, sy) = HostileFiles.StoredPixelOf(orientation, x, y, w, h);
                var expected = HostileFiles.Palette[(sy / cell) * cols + sx / cell];
                AssertColour(Pixel(decoded, x, y), expected, 24, $"orientation {orientation}, upright ({x},{y})");
            }
    }

    [Test]
    public void Png16Bit_DecodesToTheEightBitColour()
    {
        var png = HostileFiles.Png16(40, 30, 0xC000, 0x4000, 0x1000);
        var decoded = ImageDecoder.Decode(png, 20, 15, ResizeMode.Fill);
        AssertColour(Pixel(decoded, 10, 7), new SKColor(192, 64, 16), 2, "16-bit PNG");
    }

    [Test]
    public void GrayscaleJpeg_DecodesToEqualChannels()
    {
        // Left half dark (40), right half light (200), in 8×8 blocks.
        var jpeg = HostileFiles.GrayJpeg(32, 16, (bx, _) => bx < 2 ? (byte)40 : (byte)200);
        var decoded = ImageDecoder.Decode(jpeg, 32, 16, ResizeMode.Fill);
        AssertColour(Pixel(decoded, 4, 8), new SKColor(40, 40, 40), 3, "dark half");
        AssertColour(Pixel(decoded, 28, 8), new SKColor(200, 200, 200), 3, "light half");
    }

    [Test]
    public void CmykJpeg_AdobeInverted_DecodesToTheRightColour()
    {
        // Stored (inverted) C=255 M=128 Y=0 K=255 means no cyan ink, half magenta, full yellow, no black: orange.
        var jpeg = HostileFiles.AdobeCmykJpeg(32, 32, 255, 128, 0, 255);
        var decoded = ImageDecoder.Decode(jpeg, 16, 16, ResizeMode.Fill);
        AssertColour(Pixel(decoded, 8, 8), new SKColor(255, 128, 0), 3, "CMYK");
    }

    [Test]
    public void PngWithAlpha_IsFlattenedOntoWhiteNotPremultipliedToBlack()
    {
        using var bitmap = new SKBitmap(new SKImageInfo(32, 32, SKColorType.Bgra8888, SKAlphaType.Unpremul));
        bitmap.Erase(new SKColor(0, 0, 255, 64)); // a quarter-opaque blue
        var decoded = ImageDecoder.Decode(HostileFiles.Encode(bitmap, SKEncodedImageFormat.Png), 16, 16, ResizeMode.Fill);
        // 0.25 × blue + 0.75 × white = (191, 191, 255); premultiplied without flattening it would be (0, 0, 64).
        AssertColour(Pixel(decoded, 8, 8), new SKColor(191, 191, 255), 3, "alpha over white");
        Assert.That(decoded.Bgra[3], Is.EqualTo(255), "opaque result");
    }

    [Test]
    public void AnimatedGif_UsesTheFirstFrame()
    {
        var gif = HostileFiles.AnimatedGif(20, 10, SKColors.Red, SKColors.Blue);
        var decoded = ImageDecoder.Decode(gif, 20, 10, ResizeMode.Fill);
        AssertColour(Pixel(decoded, 0, 0), SKColors.Red, 0, "top-left");
        AssertColour(Pixel(decoded, 19, 9), SKColors.Red, 0, "bottom-right");
    }

    [Test]
    public void DecompressionBombHeader_IsRefusedBeforeAnyPixelIsDecoded()
    {
        var bomb = HostileFiles.BombPng();
        Assert.That(bomb.Length, Is.LessThan(2000), "the whole file is tiny");
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(bomb, 224, 224, ResizeMode.Fill, source: "bomb.png"))!;
        clock.Stop();
        Assert.That(e.Reason, Does.Contain("30000×30000").And.Contain("decompression bomb"));
        Assert.That(e.Message, Does.Contain("bomb.png"));
        // Decoding 900 megapixels would take seconds and 3.6 GB; refusing from the header is instant.
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(2)));
    }

    [Test]
    public void PixelLimit_IsConfigurable()
    {
        var png = HostileFiles.Png16(100, 100, 0, 0, 0);
        Assert.That(() => ImageDecoder.Decode(png, 10, 10, ResizeMode.Fill, new ImageDecodeOptions { MaxPixels = 10_000 }), Throws.Nothing, "exactly at the limit");
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(png, 10, 10, ResizeMode.Fill, new ImageDecodeOptions { MaxPixels = 9_999 }))!;
        Assert.That(e.Reason, Does.Contain("9,999"));
    }

    [Test]
    public void TruncatedJpeg_IsRefusedAsTruncatedWithTheFileName()
    {
        var jpeg = HostileFiles.NoiseJpeg(160, 120, 3);
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(jpeg.AsSpan(0, jpeg.Length * 2 / 3), 64, 64, ResizeMode.Fill, source: "cut.jpg"))!;
        Assert.That(e.Reason, Does.Contain("truncated"));
        Assert.That(e.Message, Does.Contain("cut.jpg"));
    }

    [Test]
    public void TruncatedGifAndPng_AreRefusedToo()
    {
        var gif = HostileFiles.AnimatedGif(64, 64, SKColors.Red, SKColors.Blue);
        Assert.That(() => ImageDecoder.Decode(gif.AsSpan(0, 60), 8, 8, ResizeMode.Fill), Throws.TypeOf<ImageDecodeException>(), "GIF cut inside the first frame");
        var png = HostileFiles.Png16(64, 64, 1, 2, 3);
        Assert.That(() => ImageDecoder.Decode(png.AsSpan(0, png.Length - 40), 8, 8, ResizeMode.Fill), Throws.TypeOf<ImageDecodeException>(), "PNG cut inside IDAT");
    }

    [Test]
    public void TextFileNamedJpg_IsRefusedNamingTheFile()
    {
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode("this is a shopping list\n"u8, 8, 8, ResizeMode.Fill, source: "/data/cats/list.jpg"))!;
        Assert.That(e.Reason, Does.Contain("not a supported image"));
        Assert.That(e.Message, Does.Contain("/data/cats/list.jpg"));
        Assert.That(e.Fix, Is.Not.Empty);
    }
}
