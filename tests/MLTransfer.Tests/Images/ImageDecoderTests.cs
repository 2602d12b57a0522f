using MLTransfer.Images;
using NUnit.Framework;
using SkiaSharp;

namespace MLTransfer.Tests.Images;

public class ImageDecoderTests
{
    private static byte[] Encode(SKBitmap bitmap, SKEncodedImageFormat format, int quality = 95)
    {
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(format, quality);
        return data.ToArray();
    }

    private static SKBitmap Solid(int w, int h, SKColor color, SKAlphaType alpha = SKAlphaType.Premul)
    {
        var bitmap = new SKBitmap(new SKImageInfo(w, h, SKColorType.Bgra8888, alpha));
        bitmap.Erase(color);
        return bitmap;
    }

    [Test]
    public void Decode_ResizesToTargetAndKeepsColour()
    {
        using var bitmap = Solid(300, 200, new SKColor(200, 40, 10));
        var decoded = ImageDecoder.Decode(Encode(bitmap, SKEncodedImageFormat.Png), 64, 48, ResizeMode.Fill);
        Assert.That((decoded.Width, decoded.Height), Is.EqualTo((64, 48)));
        var planes = new float[3 * 64 * 48];
        decoded.WritePlanes(planes);
        Assert.That(planes[0], Is.EqualTo(200f), "R plane first");
        Assert.That(planes[64 * 48], Is.EqualTo(40f), "G plane second");
        Assert.That(planes[2 * 64 * 48], Is.EqualTo(10f), "B plane third");
        decoded.WritePlanes(planes, bgr: true);
        Assert.That(planes[0], Is.EqualTo(10f), "BGR order puts blue first");
    }

    [Test]
    public void Decode_TransparentPixelsBecomeWhiteNotBlack()
    {
        using var bitmap = Solid(32, 32, new SKColor(255, 0, 0, 0), SKAlphaType.Unpremul);
        var decoded = ImageDecoder.Decode(Encode(bitmap, SKEncodedImageFormat.Png), 16, 16, ResizeMode.Fill);
        Assert.That(decoded.Bgra.Take(4).ToArray(), Is.EqualTo(new byte[] { 255, 255, 255, 255 }));
    }

    [Test]
    public void Decode_HalfTransparentRedBlendsWithWhite()
    {
        using var bitmap = Solid(32, 32, new SKColor(255, 0, 0, 128), SKAlphaType.Unpremul);
        var decoded = ImageDecoder.Decode(Encode(bitmap, SKEncodedImageFormat.Png), 16, 16, ResizeMode.Fill);
        // B,G,R,A: red stays 255, green and blue are about half white.
        Assert.That(decoded.Bgra[2], Is.EqualTo(255));
        Assert.That(decoded.Bgra[1], Is.InRange(120, 135));
        Assert.That(decoded.Bgra[3], Is.EqualTo(255));
    }

    [Test]
    public void Decode_IsoCropKeepsTheCentre()
    {
        // Left third blue, middle third green, right third red: a square centre crop sees only green.
        using var bitmap = new SKBitmap(new SKImageInfo(300, 100, SKColorType.Bgra8888, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(SKColors.Blue);
            using var green = new SKPaint { Color = SKColors.Lime };
            canvas.DrawRect(100, 0, 100, 100, green);
            using var red = new SKPaint { Color = SKColors.Red };
            canvas.DrawRect(200, 0, 100, 100, red);
        }
        var decoded = ImageDecoder.Decode(Encode(bitmap, SKEncodedImageFormat.Png), 32, 32, ResizeMode.IsoCrop);
        var planes = new float[3 * 32 * 32];
        decoded.WritePlanes(planes);
        Assert.That(planes.Skip(32 * 32).Take(32 * 32).Min(), Is.GreaterThan(240f), "green everywhere");
        Assert.That(planes.Take(32 * 32).Max(), Is.LessThan(15f), "no red");
    }

    [Test]
    public void Decode_EmptyBytes_IsRefusedWithReason()
    {
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode([], 10, 10, ResizeMode.Fill, source: "x.jpg"));
        Assert.That(e!.Reason, Is.EqualTo("empty file"));
        Assert.That(e.Message, Does.Contain("x.jpg"));
    }

    [Test]
    public void Decode_TextFile_IsRefusedWithReason()
    {
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode("hello, I am not a picture"u8.ToArray(), 10, 10, ResizeMode.Fill, source: "fake.jpg"));
        Assert.That(e!.Reason, Does.Contain("not a supported image"));
    }

    [Test]
    public void Decode_TruncatedJpeg_IsRefusedNotSilentlyPartial()
    {
        using var bitmap = new SKBitmap(new SKImageInfo(400, 300, SKColorType.Bgra8888, SKAlphaType.Premul));
        var rng = new Random(1);
        for (var y = 0; y < 300; y++)
            for (var x = 0; x < 400; x++)
                bitmap.SetPixel(x, y, new SKColor((byte)rng.Next(256), (byte)rng.Next(256), (byte)rng.Next(256)));
        var jpeg = Encode(bitmap, SKEncodedImageFormat.Jpeg, 90);
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(jpeg.AsSpan(0, jpeg.Length / 2), 64, 64, ResizeMode.Fill));
        Assert.That(e!.Reason, Does.Contain("truncated"));
    }

    [Test]
    public void Decode_OverPixelLimit_IsRefusedBeforeDecoding()
    {
        using var bitmap = Solid(200, 200, SKColors.Gray);
        var png = Encode(bitmap, SKEncodedImageFormat.Png);
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(png, 10, 10, ResizeMode.Fill, new ImageDecodeOptions { MaxPixels = 10_000 }));
        Assert.That(e!.Reason, Does.Contain("200×200"));
    }

    [Test]
    public void DecodeFile_MissingFile_NamesTheFile()
    {
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.DecodeFile("/nonexistent/none.png", 10, 10, ResizeMode.Fill));
        Assert.That(e!.Reason, Is.EqualTo("file not found"));
        Assert.That(e.Message, Does.Contain("/nonexistent/none.png"));
    }
}
