using System.Globalization;
using MLTransfer.Features;

namespace MLTransfer.Cli;

/// <summary>
/// Extraction progress on stderr: a live line on a terminal; on a redirected stream, a plain line every
/// tenth of the way, so logs hold no control characters. Always ends with its own completion line.
/// </summary>
internal sealed class ConsoleProgress(bool quiet) : IProgress<ExtractionProgress>
{
    private readonly bool _live = !Console.IsErrorRedirected;
    private int _lastDecile = -1;
    private ExtractionProgress? _last;

    public void Report(ExtractionProgress value)
    {
        _last = value;
        if (quiet || value.Total == 0)
            return;
        var line = string.Create(CultureInfo.InvariantCulture,
            $"features: {value.Done}/{value.Total} images, {value.ImagesPerSecond:F0}/s, {value.FromCache} cached, {value.Skipped} skipped, ETA {value.Remaining:mm\\:ss}");
        if (_live)
        {
            Console.Error.Write($"\r{line}   ");
            return;
        }
        var decile = value.Done * 10 / value.Total;
        if (decile != _lastDecile)
        {
            _lastDecile = decile;
            Console.Error.WriteLine(line);
        }
    }

    public void Complete()
    {
        if (quiet || _last is null)
            return;
        if (_live)
            Console.Error.WriteLine();
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"features: done, {_last.Done} images in {_last.Elapsed.TotalSeconds:F1} s ({_last.FromCache} cached, {_last.Skipped} skipped)"));
    }
}
