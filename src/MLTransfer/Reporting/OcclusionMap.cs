using System.Runtime.InteropServices;
using MLTransfer.Images;
using SkiaSharp;

namespace MLTransfer.Reporting;

/// <summary>
/// What the model looks at in one image, found by occlusion (Zeiler &amp; Fergus, 2014): a grey square slides over
/// a coarse grid, and each cell records how much the true class's probability drops while that part is hidden.
/// Where hiding costs the most is where the model found the evidence it had for the true class.
/// </summary>
/// <param name="Path">The image.</param>
/// <param name="TrueLabel">Its class.</param>
/// <param name="PredictedLabel">What the model said.</param>
/// <param name="TrueProbability">Probability of the true class on the whole image.</param>
/// <param name="Drops">Drop of the true class's probability per cell, row-major, <c>Grid × Grid</c> (negative: hiding helped).</param>
/// <param name="Grid">Cells per side.</param>
/// <param name="Png">The image with the drops overlaid as a heat map.</param>
internal sealed record OcclusionMap(string Path, string TrueLabel, string PredictedLabel, float TrueProbability, float[] Drops, int Grid, byte[] Png)
{
    /// <summary>Cells per side of the grid: coarse, so a map costs Grid² + 1 predictions.</summary>
    public const int DefaultGrid = 7;

    /// <summary>Side of the grey square as a share of the image side (larger than a cell, so neighbouring squares overlap).</summary>
    public const float PatchFraction = 0.25f;

    /// <summary>Computes the map of <paramref name="image"/> (decoded at the model's input size).</summary>
    /// <param name="path">The image file, for the record.</param>
    /// <param name="image">The decoded image.</param>
    /// <param name="trueClass">Index of the true class.</param>
    /// <param name="trueLabel">Name of the true class.</param>
    /// <param name="predictedLabel">Name of the predicted class.</param>
    /// <param name="score">Calibrated class probabilities of decoded images (called once with every occluded copy).</param>
    /// <param name="grid">Cells per side.</param>
    public static OcclusionMap Compute(string path, DecodedImage image, int trueClass, string trueLabel, string predictedLabel,
        Func<IReadOnlyList<DecodedImage>, float[][]> score, int grid = DefaultGrid)
    {
        var (w, h) = (image.Width, image.Height);
        var (patchW, patchH) = (Math.Max(1, (int)(w * PatchFraction)), Math.Max(1, (int)(h * PatchFraction)));
        var copies = new List<DecodedImage> { image };
        for (var gy = 0; gy < grid; gy++)
        {
            for (var gx = 0; gx < grid; gx++)
            {
                // The square is centred on the cell, clipped at the edges.
                var (cx, cy) = ((gx + 0.5) * w / grid, (gy + 0.5) * h / grid);
                var (x0, y0) = ((int)Math.Round(cx - patchW / 2.0), (int)Math.Round(cy - patchH / 2.0));
                var pixels = (byte[])image.Bgra.Clone();
                for (var y = Math.Max(0, y0); y < Math.Min(h, y0 + patchH); y++)
                    for (var x = Math.Max(0, x0); x < Math.Min(w, x0 + patchW); x++)
                    {
                        var o = 4 * (y * w + x);
                        (pixels[o], pixels[o + 1], pixels[o + 2]) = (128, 128, 128);
                    }
                copies.Add(image with { Bgra = pixels });
            }
        }
        var probabilities = score(copies);
        var baseline = probabilities[0][trueClass];
        var drops = probabilities.Skip(1).Select(p => baseline - p[trueClass]).ToArray();
        return new OcclusionMap(path, trueLabel, predictedLabel, baseline, drops, grid, Render(image, drops, grid));
    }

    /// <summary>
    /// The image, faded, with red cells where hiding the square lowered the true class's probability: full red at the
    /// largest drop, or at 0.1 when every drop is smaller (so a map with no real signal stays faint).
    /// </summary>
    private static byte[] Render(DecodedImage image, float[] drops, int grid)
    {
        var info = new SKImageInfo(image.Width, image.Height, SKColorType.Bgra8888, SKAlphaType.Premul);
        var handle = GCHandle.Alloc(image.Bgra, GCHandleType.Pinned);
        try
        {
            using var source = new SKBitmap();
            source.InstallPixels(info, handle.AddrOfPinnedObject(), info.RowBytes);
            using var surface = SKSurface.Create(info);
            var canvas = surface.Canvas;
            using (var faded = new SKPaint { ColorFilter = SKColorFilter.CreateBlendMode(new SKColor(255, 255, 255, 90), SKBlendMode.SrcOver) })
                canvas.DrawBitmap(source, 0, 0, faded);
            var largest = Math.Max(0.1f, drops.Max());
            for (var gy = 0; gy < grid; gy++)
            {
                for (var gx = 0; gx < grid; gx++)
                {
                    var drop = drops[gy * grid + gx];
                    if (drop <= 0)
                        continue;
                    using var cell = new SKPaint { Color = new SKColor(220, 20, 20, (byte)(200 * drop / largest)) };
                    canvas.DrawRect(SKRect.Create((float)gx * image.Width / grid, (float)gy * image.Height / grid, (float)image.Width / grid, (float)image.Height / grid), cell);
                }
            }
            using var snapshot = surface.Snapshot();
            using var png = snapshot.Encode(SKEncodedImageFormat.Png, 100);
            return png.ToArray();
        }
        finally
        {
            handle.Free();
        }
    }
}
