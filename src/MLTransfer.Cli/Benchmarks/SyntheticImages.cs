using MLTransfer.Data;
using SkiaSharp;

namespace MLTransfer.Cli.Benchmarks;

/// <summary>
/// Writes augmented copies of labelled images (random crop of 85–100 % per side, mirrored on odd copies,
/// re-encoded as JPEG) into a class-per-folder dataset, so benchmarks and tests get large image sets whose
/// content hashes all differ without shipping any data.
/// </summary>
public static class SyntheticImages
{
    /// <summary>Prefix of every written file name: <c>c{copy}_</c>, so one copy of the set can be selected by name.</summary>
    public static string CopyPrefix(int copy) => $"c{copy}_";

    /// <summary>Writes <paramref name="copies"/> augmented copies of every image of the datasets into <paramref name="destination"/>/&lt;label&gt;/.</summary>
    /// <param name="sources">Datasets (folders or manifests) to copy from; their labels are merged.</param>
    /// <param name="destination">Output folder (created).</param>
    /// <param name="copies">Copies per source image.</param>
    /// <param name="seed">Seed of the crops.</param>
    /// <param name="maxPerClass">Source images used per class (0 = all).</param>
    /// <returns>The written files.</returns>
    public static IReadOnlyList<string> Write(IEnumerable<string> sources, string destination, int copies, int seed = 1, int maxPerClass = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(copies);
        var images = sources.SelectMany(s => DatasetLoader.Load(s).Images)
            .GroupBy(i => i.Label, StringComparer.Ordinal)
            .SelectMany(g => maxPerClass > 0 ? g.Take(maxPerClass) : g)
            .ToList();
        var jobs = images.SelectMany((image, index) => Enumerable.Range(0, copies).Select(copy => (image, index, copy))).ToList();
        var written = new string?[jobs.Count];
        Parallel.For(0, jobs.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, j =>
        {
            var (image, index, copy) = jobs[j];
            var folder = Path.Combine(destination, SafeName(image.Label));
            Directory.CreateDirectory(folder);
            var target = Path.Combine(folder, $"{CopyPrefix(copy)}{index:D5}_{Path.GetFileNameWithoutExtension(image.Path)}.jpg");
            // One generator per output keeps the result independent of thread scheduling.
            var random = new Random(HashCode.Combine(seed, index, copy));
            if (Augment(image.Path, target, random, mirror: copy % 2 == 1))
                written[j] = target;
        });
        return written.OfType<string>().ToList();
    }

    private static bool Augment(string source, string target, Random random, bool mirror)
    {
        using var original = SKBitmap.Decode(source);
        if (original is null)
            return false; // unreadable sources are simply not copied
        var (w, h) = (original.Width, original.Height);
        var cw = Math.Max(1, (int)(w * (0.85 + 0.15 * random.NextDouble())));
        var ch = Math.Max(1, (int)(h * (0.85 + 0.15 * random.NextDouble())));
        var x = random.Next(0, w - cw + 1);
        var y = random.Next(0, h - ch + 1);
        using var cropped = new SKBitmap(new SKImageInfo(cw, ch, SKColorType.Bgra8888, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(cropped))
        {
            canvas.Clear(SKColors.White);
            if (mirror)
                canvas.SetMatrix(new SKMatrix(-1, 0, cw, 0, 1, 0, 0, 0, 1));
            canvas.DrawBitmap(original, SKRect.Create(x, y, cw, ch), SKRect.Create(0, 0, cw, ch));
        }
        using var data = cropped.Encode(SKEncodedImageFormat.Jpeg, 90);
        using var file = File.Create(target);
        data.SaveTo(file);
        return true;
    }

    private static string SafeName(string label) =>
        string.Concat(label.Select(c => Path.GetInvalidFileNameChars().Contains(c) || c == '/' ? '_' : c));
}
