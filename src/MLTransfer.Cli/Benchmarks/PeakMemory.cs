using System.Globalization;

namespace MLTransfer.Cli.Benchmarks;

/// <summary>Resident memory of this process as Linux reports it in <c>/proc/self/status</c>.</summary>
public static class PeakMemory
{
    /// <summary>Peak resident set size (VmHWM) in bytes, or 0 where <c>/proc</c> is not available.</summary>
    public static long PeakBytes() => Read("VmHWM:");

    /// <summary>Current resident set size (VmRSS) in bytes, or 0 where <c>/proc</c> is not available.</summary>
    public static long CurrentBytes() => Read("VmRSS:");

    /// <summary>
    /// Resets the peak to the current resident size (Linux ≥ 4.0, <c>echo 5 &gt; /proc/self/clear_refs</c>), so
    /// the peak of one phase can be measured after an earlier, larger phase. Returns false when not supported.
    /// </summary>
    public static bool TryResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return false;
        }
    }

    private static long Read(string key)
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (!line.StartsWith(key, StringComparison.Ordinal))
                    continue;
                var parts = line[key.Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return long.Parse(parts[0], CultureInfo.InvariantCulture) * 1024; // the kernel reports kB
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return 0;
    }
}
