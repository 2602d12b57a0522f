using MLTransfer.Service;
using NUnit.Framework;

namespace MLTransfer.Tests.Service;

public class ImageFormatSnifferTests
{
    [TestCase(new byte[] { 0xFF, 0xD8, 0xFF, 0xE0, 0 }, "jpeg")]
    [TestCase(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, "png")]
    [TestCase(new byte[] { 0x47, 0x49, 0x46, 0x38, 0x39, 0x61 }, "gif")]
    [TestCase(new byte[] { 0x42, 0x4D, 0, 0 }, "bmp")]
    [TestCase(new byte[] { 0x52, 0x49, 0x46, 0x46, 1, 2, 3, 4, 0x57, 0x45, 0x42, 0x50, 0x56 }, "webp")]
    [TestCase(new byte[] { 0x52, 0x49, 0x46, 0x46, 1, 2, 3, 4, 0x41, 0x56, 0x49, 0x20 }, null)]
    [TestCase(new byte[] { 0x52, 0x49, 0x46, 0x46, 1, 2, 3, 4, 0x57, 0x45 }, null)]
    [TestCase(new byte[] { 0xFF, 0xD8 }, null)]
    [TestCase(new byte[] { 0x25, 0x50, 0x44, 0x46 }, null)]
    [TestCase(new byte[0], null)]
    public void Detect_ByMagicBytes(byte[] data, string? expected) =>
        Assert.That(ImageFormatSniffer.Detect(data), Is.EqualTo(expected));

    [Test]
    public void Detect_RealSamplesAreJpeg()
    {
        foreach (var (path, _) in ServiceModels.SampleImages(8))
            Assert.That(ImageFormatSniffer.Detect(File.ReadAllBytes(path)), Is.EqualTo("jpeg"), path);
    }
}
