using SkiaSharp;

namespace MLTransfer.Tests.Fixtures;

/// <summary>Simple clip-art pictures drawn with SkiaSharp, for images of things no training set holds.</summary>
public static class ClipArt
{
    /// <summary>
    /// A clip-art apple as a PNG: a red disc with a darker rim, a brown stem and a green leaf, on white. The upload
    /// page's demo apple sent to a flowers model came back "roses (57.6%)" before models knew when not to answer.
    /// </summary>
    public static byte[] Apple(int size = 256)
    {
        using var bitmap = new SKBitmap(new SKImageInfo(size, size, SKColorType.Bgra8888, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(SKColors.White);
            canvas.Scale(size / 256f);
            using var body = new SKPaint { Color = new SKColor(0xD3, 0x1F, 0x1F), IsAntialias = true };
            canvas.DrawCircle(128, 150, 80, body);
            using var rim = new SKPaint { Color = new SKColor(0x8B, 0x10, 0x10), IsAntialias = true, IsStroke = true, StrokeWidth = 5 };
            canvas.DrawCircle(128, 150, 80, rim);
            using var shine = new SKPaint { Color = new SKColor(0xFF, 0xC0, 0xC0), IsAntialias = true };
            canvas.DrawOval(new SKRect(85, 110, 110, 145), shine);
            using var stem = new SKPaint { Color = new SKColor(0x6B, 0x42, 0x26), IsAntialias = true, IsStroke = true, StrokeWidth = 9, StrokeCap = SKStrokeCap.Round };
            canvas.DrawLine(128, 75, 136, 40, stem);
            using var leaf = new SKPaint { Color = new SKColor(0x2E, 0x9E, 0x3A), IsAntialias = true };
            using var path = new SKPath();
            path.MoveTo(138, 55);
            path.QuadTo(165, 20, 200, 40);
            path.QuadTo(170, 70, 138, 55);
            canvas.DrawPath(path, leaf);
        }
        using var image = SKImage.FromBitmap(bitmap);
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }
}
