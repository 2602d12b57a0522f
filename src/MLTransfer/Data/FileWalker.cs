using System.Security;

namespace MLTransfer.Data;

/// <summary>
/// Finds image files under folders and records what it leaves out. One walker is used for a whole load so
/// that a real folder reached twice (through a symbolic link) is only scanned once, whichever class it is in.
/// </summary>
internal sealed class FileWalker
{
    /// <summary>Extensions of image formats we cannot decode; worth reporting because the user meant them as images.</summary>
    private static readonly HashSet<string> OtherImageExtensions = new(StringComparer.OrdinalIgnoreCase)
    {
        ".tif", ".tiff", ".heic", ".heif", ".avif", ".svg", ".ico", ".jfif", ".jxl", ".psd",
        ".raw", ".dng", ".cr2", ".nef", ".arw",
    };

    private readonly HashSet<string> _extensions;
    private readonly bool _followSymlinks;
    private readonly Dictionary<string, string> _visited = new(PathUtil.Comparer);

    public FileWalker(DatasetLoadOptions options)
    {
        _extensions = new HashSet<string>(
            options.Extensions.Select(e => e.StartsWith('.') ? e : "." + e), StringComparer.OrdinalIgnoreCase);
        _followSymlinks = options.FollowSymlinks;
    }

    public List<SkippedFile> Skipped { get; } = [];
    public int IgnoredCount { get; private set; }
    public IReadOnlyCollection<string> Extensions => _extensions;

    public void CountIgnored(int count) => IgnoredCount += count;

    public bool IsImageName(string name) => _extensions.Contains(Path.GetExtension(name));

    /// <summary>
    /// Marks a folder as scanned before its turn comes, so that a link elsewhere pointing into it is not
    /// scanned under the wrong class. Returns the folder already claiming the same real path, or null.
    /// </summary>
    public string? Reserve(string dir)
    {
        var real = SafeRealPath(dir) ?? dir;
        if (_visited.TryGetValue(real, out var owner)) return owner;
        _visited[real] = dir;
        return null;
    }

    /// <summary>Lists the non-hidden entries of a folder in ordinal order, or null (and a skip entry) when it cannot be read.</summary>
    public FileSystemInfo[]? ReadEntries(string dir)
    {
        try
        {
            var entries = new DirectoryInfo(dir).GetFileSystemInfos()
                .Where(e => !PathUtil.IsHiddenOrJunk(e))
                .ToArray();
            // File-system order differs between machines; sorting keeps "first one wins" rules reproducible.
            Array.Sort(entries, (a, b) => string.CompareOrdinal(a.Name, b.Name));
            return entries;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or SecurityException)
        {
            Skipped.Add(new SkippedFile(dir, $"cannot read folder: {ex.Message}"));
            return null;
        }
    }

    /// <summary>All usable image files under <paramref name="dir"/>, recursively. The folder itself must already be reserved.</summary>
    public List<string> CollectImages(string dir)
    {
        var found = new List<string>();
        // An explicit stack rather than recursion: a very deep tree cannot overflow the call stack.
        var stack = new Stack<string>();
        stack.Push(dir);
        while (stack.Count > 0)
        {
            var current = stack.Pop();
            var entries = ReadEntries(current);
            if (entries is null) continue;
            var subdirs = new List<string>();
            foreach (var entry in entries)
            {
                if (entry is DirectoryInfo sub)
                {
                    if (EnterFolder(sub)) subdirs.Add(sub.FullName);
                }
                else if (entry is FileInfo file && CheckFile(file, reportNonImage: false) is { } path)
                {
                    found.Add(path);
                }
            }
            for (var i = subdirs.Count - 1; i >= 0; i--) stack.Push(subdirs[i]);
        }
        return found;
    }

    private bool EnterFolder(DirectoryInfo sub)
    {
        if (sub.LinkTarget is not null && !_followSymlinks)
        {
            Skipped.Add(new SkippedFile(sub.FullName, "symbolic link to a folder (following links is turned off)"));
            return false;
        }
        var real = SafeRealPath(sub.FullName);
        if (real is null)
        {
            Skipped.Add(new SkippedFile(sub.FullName, "symbolic link loop"));
            return false;
        }
        if (_visited.TryGetValue(real, out var owner))
        {
            Skipped.Add(new SkippedFile(sub.FullName, $"links to a folder that is already scanned ({owner}); not scanned twice"));
            return false;
        }
        _visited[real] = sub.FullName;
        return true;
    }

    /// <summary>
    /// Returns the file's path when it is a usable image, otherwise records why not and returns null.
    /// Non-image files are only counted, unless <paramref name="reportNonImage"/> (a manifest named them explicitly).
    /// </summary>
    public string? CheckFile(FileInfo file, bool reportNonImage)
    {
        var ext = file.Extension;
        if (!_extensions.Contains(ext))
        {
            if (OtherImageExtensions.Contains(ext))
                Skipped.Add(new SkippedFile(file.FullName,
                    $"unsupported image format '{ext}' (supported: {string.Join(' ', _extensions.Order(StringComparer.Ordinal))})"));
            else if (reportNonImage)
                Skipped.Add(new SkippedFile(file.FullName, $"not an image file extension ('{ext}')"));
            else
                IgnoredCount++;
            return null;
        }

        try
        {
            var target = file.LinkTarget is null ? file : file.ResolveLinkTarget(returnFinalTarget: true) as FileInfo;
            if (target is null || !target.Exists)
            {
                Skipped.Add(new SkippedFile(file.FullName, "broken symbolic link"));
                return null;
            }
            // Checked before opening: a FIFO or device also reports size 0, and opening one could block forever.
            if (target.Length == 0)
            {
                Skipped.Add(new SkippedFile(file.FullName, "empty file (or not a regular file)"));
                return null;
            }
            // Opening (without reading) catches permission problems now, while we can still say which file it was.
            using var handle = File.OpenHandle(file.FullName, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or SecurityException)
        {
            Skipped.Add(new SkippedFile(file.FullName, $"cannot read file: {ex.Message}"));
            return null;
        }
        return file.FullName;
    }

    private static string? SafeRealPath(string path)
    {
        try { return PathUtil.RealPath(path); }
        catch (IOException) { return null; }
    }
}
