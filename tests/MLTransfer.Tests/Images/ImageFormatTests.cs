using MLTransfer.Images;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;
using SkiaSharp;

namespace MLTransfer.Tests.Images;

public class ImageFormatTests
{
    /// <summary>
    /// 36 seeded random bytes after a WBMP header (type 0, fixed header 0, 16×16): 32 bytes of 1-bit pixels,
    /// exactly what Skia needs to decode them as an image.
    /// </summary>
    public static byte[] WbmpLookalike(int seed = 17)
    {
        var bytes = new byte[36];
        new Random(seed).NextBytes(bytes);
        bytes[0] = 0x00;
        bytes[1] = 0x00;
        bytes[2] = 0x10;
        bytes[3] = 0x10;
        return bytes;
    }

    [TestCase(new byte[] { 0xFF, 0xD8, 0xFF, 0xE0, 0 }, "jpeg")]
    [TestCase(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, "png")]
    [TestCase(new byte[] { 0x47, 0x49, 0x46, 0x38, 0x39, 0x61 }, "gif")]
    [TestCase(new byte[] { 0x42, 0x4D, 0, 0 }, "bmp")]
    [TestCase(new byte[] { 0x52, 0x49, 0x46, 0x46, 1, 2, 3, 4, 0x57, 0x45, 0x42, 0x50, 0x56 }, "webp")]
    [TestCase(new byte[] { 0x52, 0x49, 0x46, 0x46, 1, 2, 3, 4, 0x41, 0x56, 0x49, 0x20 }, null)]
    [TestCase(new byte[] { 0x52, 0x49, 0x46, 0x46, 1, 2, 3, 4, 0x57, 0x45 }, null)]
    [TestCase(new byte[] { 0xFF, 0xD8 }, null)]
    [TestCase(new byte[] { 0x25, 0x50, 0x44, 0x46 }, null)]
    [TestCase(new byte[] { 0x00, 0x00, 0x10, 0x10, 0xFF }, null)]
    [TestCase(new byte[] { 0x00, 0x00, 0x01, 0x00 }, null)]
    [TestCase(new byte[0], null)]
    public void Detect_ByMagicBytes(byte[] data, string? expected) =>
        Assert.That(ImageFormat.Detect(data), Is.EqualTo(expected));

    [Test]
    public void Detect_RealSamplesAreJpeg()
    {
        var samples = Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, "data-samples"), "*.jpg", SearchOption.AllDirectories)
            .Order(StringComparer.Ordinal).Take(8).ToList();
        Assert.That(samples, Has.Count.EqualTo(8));
        foreach (var path in samples)
            Assert.That(ImageFormat.Detect(File.ReadAllBytes(path)), Is.EqualTo("jpeg"), path);
    }

    [Test]
    public void EveryAcceptedFormatSkiaWrites_IsDetectedAndDecodes()
    {
        using var bitmap = new SKBitmap(new SKImageInfo(8, 8, SKColorType.Bgra8888, SKAlphaType.Premul));
        bitmap.Erase(new SKColor(10, 200, 30));
        using var image = SKImage.FromBitmap(bitmap);
        foreach (var (format, name) in new[] { (SKEncodedImageFormat.Png, "png"), (SKEncodedImageFormat.Jpeg, "jpeg"), (SKEncodedImageFormat.Webp, "webp") })
        {
            var bytes = image.Encode(format, 100).ToArray();
            Assert.That(ImageFormat.Detect(bytes), Is.EqualTo(name));
            Assert.That(ImageDecoder.Decode(bytes, 4, 4, ResizeMode.Fill).Width, Is.EqualTo(4), name);
        }
    }

    [Test]
    public void WbmpLookalike_IsAnImageToSkia_ButRefusedByTheDecoderNamingTheAcceptedFormats()
    {
        var bytes = WbmpLookalike();
        // The premise: Skia on its own takes these random bytes for a 16×16 picture.
        using (var codec = SKCodec.Create(SKData.CreateCopy(bytes)))
        {
            Assert.That(codec, Is.Not.Null);
            Assert.That(codec.EncodedFormat, Is.EqualTo(SKEncodedImageFormat.Wbmp));
            Assert.That(codec.Info.Width, Is.EqualTo(16));
        }

        Assert.That(ImageFormat.Detect(bytes), Is.Null);
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(bytes, 8, 8, ResizeMode.Fill, source: "noise.jpg"))!;
        Assert.That(e.Reason, Does.StartWith("not a supported image").And.Contain("JPEG, PNG, BMP, GIF or WebP"));
        Assert.That(e.Where, Is.EqualTo("noise.jpg"));
        var upright = Assert.Throws<ImageDecodeException>(() => ImageDecoder.DecodeUpright(bytes))!;
        Assert.That(upright.Reason, Is.EqualTo(e.Reason));
    }
}
