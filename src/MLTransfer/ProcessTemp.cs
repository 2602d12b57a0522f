using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;

namespace MLTransfer;

/// <summary>
/// Temporary files of this process, named after it so that a later run can tell which ones a killed
/// process left behind and delete them. ML.NET writes a temporary copy of every ONNX graph it runs (the
/// size of the backbone); a kill -9 leaves those, and atomic saves leave their half-written
/// temporary zip, forever unless someone owns the cleanup.
/// </summary>
internal static class ProcessTemp
{
    private static readonly Lazy<string> OwnFolder = new(CreateOwnFolder);

    /// <summary>This process's tag: its id and start time, so a reused id is not mistaken for the same process.</summary>
    public static string Tag { get; } = TagOf(Environment.ProcessId, StartTicks(Environment.ProcessId) ?? 0);

    /// <summary>The folder every MLTransfer temporary file of this process goes into (created on first use).</summary>
    public static string Folder => OwnFolder.Value;

    /// <summary>
    /// The parent of every process's folder: <c>$TMPDIR/mltransfer-USER</c>, one per user, so that one user's
    /// folder (created private) neither blocks nor exposes another's.
    /// </summary>
    public static string Root => Path.Combine(Path.GetTempPath(), "mltransfer-" + SafeName(Environment.UserName));

    /// <summary>A new ML.NET context whose temporary files go into <see cref="Folder"/>.</summary>
    public static MLContext NewMLContext(int? seed = null) => new(seed) { TempFilePath = Folder };

    /// <summary>
    /// Writes a file through a temporary sibling and a rename, so readers never see a partial file. Temporary
    /// siblings that a killed earlier run left beside <paramref name="path"/> are deleted first.
    /// </summary>
    /// <param name="path">The file to write.</param>
    /// <param name="write">Writes the content to the temporary path it is given.</param>
    /// <param name="what">What the file is, for the error (default: its name).</param>
    /// <param name="hint">What to do when it cannot be written (default: check the folder; the previous file is unchanged).</param>
    /// <exception cref="MLTransferException">The folder cannot be written; the previous file is left intact.</exception>
    public static void WriteAtomically(string path, Action<string> write, string? what = null, string? hint = null)
    {
        var full = Path.GetFullPath(path);
        var temp = SiblingFor(full);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            SweepSiblings(full);
            write(temp);
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(() => File.Delete(temp));
            throw new MLTransferException($"Could not write {what ?? Path.GetFileName(full)}: {e.Message}", full,
                hint ?? "Check that the folder is writable and the disk has space; any previous file there is unchanged", e);
        }
        catch
        {
            TryDelete(() => File.Delete(temp));
            throw;
        }
    }

    /// <summary>A temporary sibling of <paramref name="path"/> for an atomic write: hidden, and tagged with this process.</summary>
    public static string SiblingFor(string path)
    {
        var full = Path.GetFullPath(path);
        return Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Tag}.{Guid.NewGuid():N}.tmp");
    }

    /// <summary>
    /// Deletes the temporary siblings of <paramref name="path"/> (see <see cref="SiblingFor"/>) whose process is
    /// gone. A sibling of a live process is another save in progress and is left alone.
    /// </summary>
    /// <returns>How many were deleted.</returns>
    public static int SweepSiblings(string path)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        var prefix = $".{Path.GetFileName(full)}.";
        if (!Directory.Exists(dir))
            return 0;
        var deleted = 0;
        foreach (var file in SafeList(() => Directory.EnumerateFiles(dir, prefix + "*.tmp")))
        {
            // .NAME.<pid>-<ticks>.<guid>.tmp
            var rest = Path.GetFileName(file)[prefix.Length..];
            var tag = rest.Split('.')[0];
            if (IsTag(tag) && !IsAlive(tag) && TryDelete(() => File.Delete(file)))
                deleted++;
        }
        return deleted;
    }

    private static string CreateOwnFolder()
    {
        try
        {
            if (OperatingSystem.IsWindows())
                Directory.CreateDirectory(Root);
            else
                Directory.CreateDirectory(Root, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            // Once per process is enough: what dead processes left does not grow while this one runs.
            foreach (var dir in SafeList(() => Directory.EnumerateDirectories(Root)))
            {
                var tag = Path.GetFileName(dir);
                if (IsTag(tag) && !IsAlive(tag))
                    TryDelete(() => Directory.Delete(dir, recursive: true));
            }
            var own = Directory.CreateDirectory(Path.Combine(Root, Tag)).FullName;
            AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDelete(() => Directory.Delete(own, recursive: true));
            return own;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A temp folder we cannot use must not stop the run: fall back to the plain temp folder (what ML.NET
            // does on its own), losing only the sweep.
            return Path.GetTempPath();
        }
    }

    private static string SafeName(string name)
    {
        var safe = new string(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_').ToArray());
        return safe.Length == 0 ? "user" : safe;
    }

    private static string TagOf(int pid, long startTicks) => $"{pid.ToString(CultureInfo.InvariantCulture)}-{startTicks.ToString("x", CultureInfo.InvariantCulture)}";

    private static bool IsTag(string tag)
    {
        var parts = tag.Split('-');
        return parts.Length == 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out _)
            && long.TryParse(parts[1], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out _);
    }

    /// <summary>True while the process that made <paramref name="tag"/> runs (same id and same start time).</summary>
    internal static bool IsAlive(string tag)
    {
        var pid = int.Parse(tag.Split('-')[0], CultureInfo.InvariantCulture);
        if (pid == Environment.ProcessId)
            return tag == Tag;
        return StartTicks(pid) is { } ticks && TagOf(pid, ticks) == tag;
    }

    /// <summary>When the process started, in a unit that is stable between reads; null when it is not running.</summary>
    private static long? StartTicks(int pid)
    {
        if (OperatingSystem.IsLinux())
        {
            // Field 22 of /proc/PID/stat, clock ticks after boot: an exact integer, unlike Process.StartTime,
            // which Linux .NET derives from the current clock and so moves between reads.
            try
            {
                var stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                return long.Parse(fields[19], CultureInfo.InvariantCulture);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
            {
                return null;
            }
        }
        try
        {
            using var process = Process.GetProcessById(pid);
            return process.StartTime.ToUniversalTime().Ticks / TimeSpan.TicksPerSecond;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            return null;
        }
    }

    private static IEnumerable<string> SafeList(Func<IEnumerable<string>> list)
    {
        try { return list().ToList(); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
    }

    private static bool TryDelete(Action delete)
    {
        try { delete(); return true; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }
}
