using MLTransfer.Evaluation;
using SkiaSharp;

namespace MLTransfer.Reporting;

/// <summary>
/// PNG charts drawn with SkiaSharp: confusion-matrix heatmaps (counts or row shares), per-class bars, learning
/// curves, reliability diagrams and coverage/accuracy curves.
/// </summary>
internal static class ReportPlots
{
    private static readonly SKColor Ink = new(0x22, 0x22, 0x22);
    private static readonly SKColor Grid = new(0xDD, 0xDD, 0xDD);
    private static readonly SKColor[] Series = [new(0x1F, 0x77, 0xB4), new(0xFF, 0x7F, 0x0E), new(0x2C, 0xA0, 0x2C), new(0xD6, 0x27, 0x28)];

    /// <summary>
    /// Heatmap of the confusion matrix, rows = true class, columns = predicted, with counts (or, normalised, each
    /// cell's share of its true class) and class names.
    /// </summary>
    public static byte[] ConfusionMatrix(ConfusionMatrix matrix, bool normalised = false)
    {
        var n = matrix.ClassNames.Count;
        // Sized so the counts and the shares fit side by side in the report's width.
        var cell = Math.Clamp(360 / Math.Max(1, n), 28, 80);
        using var font = new SKFont(SKTypeface.Default, 13);
        var labelWidth = (int)Math.Ceiling(matrix.ClassNames.Max(c => font.Size * 0.6f * c.Length)) + 16;
        var (left, top) = (labelWidth + 30, labelWidth + 30);
        var (width, height) = (left + n * cell + 20, top + n * cell + 20);
        return Draw(width, height, canvas =>
        {
            using var text = new SKPaint { Color = Ink, IsAntialias = true };
            var rowTotals = matrix.Counts.Select(r => Math.Max(1, r.Sum())).ToArray();
            for (var t = 0; t < n; t++)
            {
                for (var p = 0; p < n; p++)
                {
                    // Colour by the share of the true class, so small classes are as readable as big ones.
                    var share = (float)matrix.Counts[t][p] / rowTotals[t];
                    using var fill = new SKPaint { Color = Blend(new SKColor(0xF7, 0xFB, 0xFF), new SKColor(0x08, 0x30, 0x6B), share) };
                    var rect = SKRect.Create(left + p * cell, top + t * cell, cell, cell);
                    canvas.DrawRect(rect, fill);
                    using var countPaint = new SKPaint { Color = share > 0.5f ? SKColors.White : Ink, IsAntialias = true };
                    var label = normalised ? share.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture) : matrix.Counts[t][p].ToString(System.Globalization.CultureInfo.InvariantCulture);
                    Text(canvas, label, rect.MidX, rect.MidY + 5, SKTextAlign.Center, font, countPaint);
                }
                Text(canvas, matrix.ClassNames[t], left - 8, top + t * cell + cell / 2f + 5, SKTextAlign.Right, font, text);
            }
            for (var p = 0; p < n; p++)
            {
                canvas.Save();
                canvas.Translate(left + p * cell + cell / 2f + 5, top - 8);
                canvas.RotateDegrees(-90);
                Text(canvas, matrix.ClassNames[p], 0, 0, SKTextAlign.Left, font, text);
                canvas.Restore();
            }
            Text(canvas, normalised ? "predicted → (share of the true class)" : "predicted →", left, 16, SKTextAlign.Left, font, text);
            canvas.Save();
            canvas.Translate(16, top + n * cell);
            canvas.RotateDegrees(-90);
            Text(canvas, "true →", 0, 0, SKTextAlign.Left, font, text);
            canvas.Restore();
        });
    }

    /// <summary>Grouped bars of precision, recall and F1 per class.</summary>
    public static byte[] PerClassBars(IReadOnlyList<ClassMetrics> perClass)
    {
        var names = perClass.Select(c => c.Name).ToList();
        var values = new[] { perClass.Select(c => c.Precision).ToList(), perClass.Select(c => c.Recall).ToList(), perClass.Select(c => c.F1).ToList() };
        const int group = 3 * 18 + 24;
        var width = Math.Max(420, 70 + names.Count * group + 20);
        return Draw(width, 300, canvas =>
        {
            var plot = SKRect.Create(50, 20, width - 70, 220);
            Axes(canvas, plot, 0, 1);
            using var font = new SKFont(SKTypeface.Default, 12);
            using var text = new SKPaint { Color = Ink, IsAntialias = true };
            for (var c = 0; c < names.Count; c++)
            {
                var x0 = plot.Left + 12 + c * group;
                for (var s = 0; s < 3; s++)
                {
                    var h = (float)(values[s][c] * plot.Height);
                    using var fill = new SKPaint { Color = Series[s] };
                    canvas.DrawRect(SKRect.Create(x0 + s * 18, plot.Bottom - h, 16, h), fill);
                }
                Text(canvas, Shorten(names[c], 12), x0 + 27, plot.Bottom + 16, SKTextAlign.Center, font, text);
            }
            Legend(canvas, ["precision", "recall", "F1"], plot.Left, 290);
        });
    }

    /// <summary>Loss and accuracy per epoch, train vs validation (or the named held set), side by side.</summary>
    public static byte[] LearningCurves(IReadOnlyList<EpochRecord> epochs, string validationName = "validation")
    {
        const int panel = 420;
        return Draw(2 * panel + 20, 300, canvas =>
        {
            var losses = epochs.Select(e => e.TrainLoss).Concat(epochs.Where(e => e.ValidationLoss is not null).Select(e => e.ValidationLoss!.Value)).ToList();
            var maxLoss = Math.Max(1e-6, losses.Count == 0 ? 1 : losses.Max());
            Curves(canvas, SKRect.Create(50, 20, panel - 70, 220), "loss", 0, maxLoss, epochs, e => e.TrainLoss, e => e.ValidationLoss);
            Curves(canvas, SKRect.Create(panel + 60, 20, panel - 70, 220), "accuracy", 0, 1, epochs, e => e.TrainAccuracy, e => e.ValidationAccuracy);
            Legend(canvas, ["train", validationName], 50, 290);
        });
    }

    /// <summary>
    /// Reliability diagrams before and after temperature scaling, side by side: accuracy per confidence bin against
    /// the diagonal a perfectly calibrated model follows, with each bin's share of the images as a faint bar.
    /// </summary>
    public static byte[] Reliability(Reliability before, Reliability after)
    {
        const int panel = 380;
        return Draw(2 * panel + 40, 330, canvas =>
        {
            ReliabilityPanel(canvas, SKRect.Create(50, 24, panel - 70, panel - 130), before, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"before (ECE {before.ExpectedCalibrationError:F3})"));
            ReliabilityPanel(canvas, SKRect.Create(panel + 80, 24, panel - 70, panel - 130), after, string.Create(System.Globalization.CultureInfo.InvariantCulture, $"after (ECE {after.ExpectedCalibrationError:F3})"));
            Legend(canvas, ["accuracy", "share of images"], 50, 320);
        });
    }

    private static void ReliabilityPanel(SKCanvas canvas, SKRect plot, Reliability r, string title)
    {
        Axes(canvas, plot, 0, 1);
        using var font = new SKFont(SKTypeface.Default, 12);
        using var text = new SKPaint { Color = Ink, IsAntialias = true };
        Text(canvas, title, plot.MidX, plot.Top - 8, SKTextAlign.Center, font, text);
        Text(canvas, "confidence (top-class probability)", plot.MidX, plot.Bottom + 30, SKTextAlign.Center, font, text);
        using var diagonal = new SKPaint { Color = Grid, StrokeWidth = 2, IsStroke = true, IsAntialias = true, PathEffect = SKPathEffect.CreateDash([6, 4], 0) };
        canvas.DrawLine(plot.Left, plot.Bottom, plot.Right, plot.Top, diagonal);
        var total = Math.Max(1, r.Bins.Sum(b => b.Count));
        foreach (var b in r.Bins)
        {
            var x0 = plot.Left + (float)b.Lower * plot.Width;
            var w = (float)(b.Upper - b.Lower) * plot.Width - 2;
            if (b.Count == 0)
                continue;
            using var bar = new SKPaint { Color = Series[0].WithAlpha(200) };
            var a = (float)b.Accuracy * plot.Height;
            canvas.DrawRect(SKRect.Create(x0 + 1, plot.Bottom - a, w, a), bar);
            // The bin's share of the images: a narrow bar in front, so both read at a glance.
            using var share = new SKPaint { Color = Series[1] };
            var h = (float)b.Count / total * plot.Height;
            canvas.DrawRect(SKRect.Create(x0 + w * 0.3f, plot.Bottom - h, w * 0.4f, h), share);
        }
        foreach (var v in new[] { 0.0, 0.5, 1.0 })
            Text(canvas, v.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture), plot.Left + (float)v * plot.Width, plot.Bottom + 15, SKTextAlign.Center, font, text);
    }

    /// <summary>
    /// Accuracy against coverage as the probability threshold rises: with only the probability checked, and with
    /// out-of-domain images also withheld.
    /// </summary>
    public static byte[] Coverage(IReadOnlyList<CoveragePoint> plain, IReadOnlyList<CoveragePoint> gated)
    {
        return Draw(460, 330, canvas =>
        {
            var plot = SKRect.Create(50, 20, 380, 250);
            var points = plain.Concat(gated).Where(p => !double.IsNaN(p.Accuracy)).ToList();
            var min = points.Count == 0 ? 0 : Math.Floor(points.Min(p => p.Accuracy) * 10) / 10;
            Axes(canvas, plot, min, 1);
            using var font = new SKFont(SKTypeface.Default, 12);
            using var text = new SKPaint { Color = Ink, IsAntialias = true };
            Text(canvas, "coverage (share of images answered)", plot.MidX, plot.Bottom + 30, SKTextAlign.Center, font, text);
            foreach (var v in new[] { 0.0, 0.5, 1.0 })
                Text(canvas, v.ToString("0.0", System.Globalization.CultureInfo.InvariantCulture), plot.Left + (float)v * plot.Width, plot.Bottom + 15, SKTextAlign.Center, font, text);
            void Line(IReadOnlyList<CoveragePoint> curve, SKColor color)
            {
                using var path = new SKPath();
                var first = true;
                foreach (var p in curve.Where(p => !double.IsNaN(p.Accuracy)))
                {
                    var point = new SKPoint(plot.Left + (float)p.Coverage * plot.Width, plot.Bottom - (float)((p.Accuracy - min) / (1 - min)) * plot.Height);
                    if (first) path.MoveTo(point); else path.LineTo(point);
                    first = false;
                    using var dot = new SKPaint { Color = color, IsAntialias = true };
                    canvas.DrawCircle(point, 3, dot);
                }
                using var stroke = new SKPaint { Color = color, StrokeWidth = 2, IsStroke = true, IsAntialias = true };
                canvas.DrawPath(path, stroke);
            }
            Line(plain, Series[0]);
            Line(gated, Series[1]);
            Legend(canvas, ["probability only", "and out-of-domain withheld"], 50, 320);
        });
    }

    private static void Curves(SKCanvas canvas, SKRect plot, string title, double min, double max, IReadOnlyList<EpochRecord> epochs,
        Func<EpochRecord, double> train, Func<EpochRecord, double?> validation)
    {
        Axes(canvas, plot, min, max);
        using var font = new SKFont(SKTypeface.Default, 12);
        using var text = new SKPaint { Color = Ink, IsAntialias = true };
        Text(canvas, title, plot.MidX, plot.Top - 6, SKTextAlign.Center, font, text);
        Text(canvas, "epoch", plot.MidX, plot.Bottom + 30, SKTextAlign.Center, font, text);
        if (epochs.Count == 0)
            return;
        // Fine-tuning curves start at epoch 0 (the head alone); the others at 1.
        var first = epochs[0].Epoch;
        var last = Math.Max(first + 1, epochs[^1].Epoch);
        SKPoint At(int epoch, double v) => new(plot.Left + (epoch - first) * plot.Width / (last - first), plot.Bottom - (float)((v - min) / (max - min)) * plot.Height);
        void Line(IEnumerable<SKPoint> points, SKColor color)
        {
            using var path = new SKPath();
            var first = true;
            foreach (var p in points)
            {
                if (first) path.MoveTo(p); else path.LineTo(p);
                first = false;
            }
            using var stroke = new SKPaint { Color = color, StrokeWidth = 2, IsStroke = true, IsAntialias = true };
            canvas.DrawPath(path, stroke);
        }
        Line(epochs.Select(e => At(e.Epoch, train(e))), Series[0]);
        Line(epochs.Where(e => validation(e) is not null).Select(e => At(e.Epoch, validation(e)!.Value)), Series[1]);
        Text(canvas, first.ToString(System.Globalization.CultureInfo.InvariantCulture), plot.Left, plot.Bottom + 15, SKTextAlign.Center, font, text);
        Text(canvas, last.ToString(), plot.Right, plot.Bottom + 15, SKTextAlign.Center, font, text);
    }

    private static void Axes(SKCanvas canvas, SKRect plot, double min, double max)
    {
        using var grid = new SKPaint { Color = Grid, StrokeWidth = 1 };
        using var axis = new SKPaint { Color = Ink, StrokeWidth = 1 };
        using var font = new SKFont(SKTypeface.Default, 11);
        using var text = new SKPaint { Color = Ink, IsAntialias = true };
        for (var i = 0; i <= 4; i++)
        {
            var y = plot.Bottom - i * plot.Height / 4;
            canvas.DrawLine(plot.Left, y, plot.Right, y, grid);
            Text(canvas, (min + i * (max - min) / 4).ToString("0.##", System.Globalization.CultureInfo.InvariantCulture), plot.Left - 6, y + 4, SKTextAlign.Right, font, text);
        }
        canvas.DrawLine(plot.Left, plot.Top, plot.Left, plot.Bottom, axis);
        canvas.DrawLine(plot.Left, plot.Bottom, plot.Right, plot.Bottom, axis);
    }

    private static void Legend(SKCanvas canvas, IReadOnlyList<string> names, float x, float y)
    {
        using var font = new SKFont(SKTypeface.Default, 12);
        using var text = new SKPaint { Color = Ink, IsAntialias = true };
        for (var i = 0; i < names.Count; i++)
        {
            using var fill = new SKPaint { Color = Series[i] };
            canvas.DrawRect(SKRect.Create(x, y - 10, 12, 12), fill);
            Text(canvas, names[i], x + 16, y, SKTextAlign.Left, font, text);
            x += 30 + font.Size * 0.6f * names[i].Length;
        }
    }

    // SkiaSharp 2.88 draws text through SKPaint; the font only carries the typeface and size here.
    private static void Text(SKCanvas canvas, string text, float x, float y, SKTextAlign align, SKFont font, SKPaint colour)
    {
        using var paint = new SKPaint { Color = colour.Color, IsAntialias = true, TextSize = font.Size, Typeface = font.Typeface, TextAlign = align };
        canvas.DrawText(text, x, y, paint);
    }

    private static byte[] Draw(int width, int height, Action<SKCanvas> paint)
    {
        using var bitmap = new SKBitmap(width, height);
        using (var canvas = new SKCanvas(bitmap))
        {
            canvas.Clear(SKColors.White);
            paint(canvas);
        }
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    private static SKColor Blend(SKColor a, SKColor b, float t) => new(
        (byte)(a.Red + (b.Red - a.Red) * t), (byte)(a.Green + (b.Green - a.Green) * t), (byte)(a.Blue + (b.Blue - a.Blue) * t));

    private static string Shorten(string s, int max) => s.Length <= max ? s : s[..(max - 1)] + "…";
}
