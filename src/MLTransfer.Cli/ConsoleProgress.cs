using System.Globalization;
using MLTransfer.Features;

namespace MLTransfer.Cli;

/// <summary>
/// Extraction progress and the run's log lines on stderr. On a terminal the progress is one live line that
/// log lines never share: a log line first erases it, takes its own line, and the progress is drawn again
/// below, until the extraction is complete (the library then logs its own summary line). On a redirected
/// stream, progress is a plain line every tenth of the way, so logs hold no control characters.
/// </summary>
internal sealed class ConsoleProgress(bool quiet, bool? live = null) : IProgress<ExtractionProgress>
{
    // Erase the whole line and return to its start (ANSI), rather than overwriting with spaces that wrap on narrow terminals.
    private const string EraseLine = "\r\u001b[2K";
    private readonly bool _live = live ?? !Console.IsErrorRedirected;
    private readonly Lock _gate = new();
    private int _lastDecile = -1;
    private string? _shown;

    public void Report(ExtractionProgress value)
    {
        lock (_gate)
        {
            if (quiet || value.Total == 0)
                return;
            var line = string.Create(CultureInfo.InvariantCulture,
                $"features: {value.Done}/{value.Total} images, {value.ImagesPerSecond:F0}/s, {value.FromCache} cached, {value.Skipped} skipped, ETA {value.Remaining:mm\\:ss}");
            if (_live)
            {
                // At 100 % the line goes: the run's own summary line follows, and a finished count adds nothing.
                _shown = value.Done < value.Total ? line : null;
                Console.Error.Write(_shown is null ? EraseLine : $"{EraseLine}{line}");
                return;
            }
            var decile = value.Done * 10 / value.Total;
            if (decile != _lastDecile)
            {
                _lastDecile = decile;
                Console.Error.WriteLine(line);
            }
        }
    }

    /// <summary>Writes one log line (unless quiet), on its own line even while the live progress line is shown.</summary>
    public void Log(string line)
    {
        if (quiet)
            return;
        lock (_gate)
        {
            if (_shown is null)
            {
                Console.Error.WriteLine(line);
                return;
            }
            Console.Error.Write($"{EraseLine}{line}\n{_shown}");
        }
    }

    /// <summary>Erases a live line still shown (an interrupted or partly cached extraction).</summary>
    public void Complete()
    {
        lock (_gate)
        {
            if (_shown is not null)
                Console.Error.Write(EraseLine);
            _shown = null;
        }
    }
}
