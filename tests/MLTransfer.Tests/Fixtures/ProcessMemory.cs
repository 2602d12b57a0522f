using System.Globalization;

namespace MLTransfer.Tests.Fixtures;

/// <summary>Memory of a process as the kernel charges it, from <c>/proc/PID/status</c>.</summary>
public static class ProcessMemory
{
    /// <summary>Resident memory (VmRSS) in bytes, of this process or of <paramref name="pid"/>.</summary>
    public static long RssBytes(int? pid = null) => Field(pid, "VmRSS:");

    /// <summary>Resident memory of this process in MiB.</summary>
    public static double RssMiB() => RssBytes() / 1048576.0;

    /// <summary>Peak resident memory (VmHWM) in bytes, of this process or of <paramref name="pid"/>.</summary>
    public static long PeakBytes(int? pid = null) => Field(pid, "VmHWM:");

    private static long Field(int? pid, string name)
    {
        var line = File.ReadLines($"/proc/{(pid is { } p ? p.ToString(CultureInfo.InvariantCulture) : "self")}/status").First(l => l.StartsWith(name, StringComparison.Ordinal));
        // "VmRSS:\t  123 kB", or with no padding once the number is wide: split on any white space.
        return long.Parse(line[name.Length..].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[0], CultureInfo.InvariantCulture) * 1024;
    }
}
