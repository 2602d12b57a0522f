namespace MLTransfer.Data;

/// <summary>Path helpers shared by the loader and the splitter.</summary>
internal static class PathUtil
{
    /// <summary>Names some tools drop into every folder; they are never data.</summary>
    private static readonly HashSet<string> JunkNames = new(StringComparer.OrdinalIgnoreCase)
    {
        "Thumbs.db", "desktop.ini", ".DS_Store", "ehthumbs.db",
    };

    /// <summary>Windows and macOS file systems are case-insensitive by default; Linux ones are not.</summary>
    public static StringComparison Comparison { get; } =
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    public static StringComparer Comparer { get; } =
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;

    public static bool IsHiddenOrJunk(FileSystemInfo info) =>
        info.Name.StartsWith('.')
        || JunkNames.Contains(info.Name)
        // On Unix the Hidden attribute is derived from the leading dot, so this only adds Windows' flag.
        || (OperatingSystem.IsWindows() && info.Attributes.HasFlag(FileAttributes.Hidden));

    /// <summary>True when <paramref name="path"/> is <paramref name="root"/> or lies beneath it.</summary>
    public static bool IsWithin(string path, string root)
    {
        var r = Path.TrimEndingDirectorySeparator(root);
        if (path.Equals(r, Comparison)) return true;
        return path.StartsWith(r + Path.DirectorySeparatorChar, Comparison)
            || (Path.AltDirectorySeparatorChar != Path.DirectorySeparatorChar
                && path.StartsWith(r + Path.AltDirectorySeparatorChar, Comparison));
    }

    /// <summary>
    /// The path with every symbolic link resolved, like POSIX realpath. Written by hand because .NET only
    /// resolves the last component, and loop detection and escape checks need the real location of every
    /// component. Components that do not exist are kept as written.
    /// </summary>
    /// <exception cref="IOException">Too many links (a link cycle).</exception>
    public static string RealPath(string path)
    {
        var full = Path.GetFullPath(path);
        var root = Path.GetPathRoot(full) ?? "/";
        var pending = new Stack<string>(SplitComponents(full[root.Length..]).Reverse());
        var current = root;
        var hops = 0;
        while (pending.Count > 0)
        {
            var part = pending.Pop();
            if (part == ".") continue;
            if (part == "..")
            {
                // Safe to go up lexically: current never contains a link.
                current = Path.GetDirectoryName(current) ?? current;
                continue;
            }
            var next = Path.Combine(current, part);
            string? target = null;
            try { target = new FileInfo(next).LinkTarget; }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            if (target is null)
            {
                current = next;
                continue;
            }
            if (++hops > 40) throw new IOException($"Too many levels of symbolic links: {path}");
            if (Path.IsPathRooted(target))
            {
                var targetRoot = Path.GetPathRoot(target) ?? root;
                current = targetRoot;
                target = target[targetRoot.Length..];
            }
            foreach (var p in SplitComponents(target).Reverse()) pending.Push(p);
        }
        return current;
    }

    private static IEnumerable<string> SplitComponents(string path) =>
        path.Split([Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar], StringSplitOptions.RemoveEmptyEntries);

    /// <summary>Path relative to <paramref name="root"/> with '/' separators, so that it is the same on every OS.</summary>
    public static string PortableRelative(string root, string path) =>
        Path.GetRelativePath(root, path).Replace('\\', '/');
}
