using System.Text.RegularExpressions;
using MLTransfer.Data;

namespace MLTransfer.Cli;

/// <summary>
/// Expands <c>predict</c>'s arguments into image files: a file as given, a folder as every image file under
/// it, a glob (<c>*</c>, <c>?</c>, <c>**</c> for any folders; quote it so the shell leaves it alone) as the
/// files it matches. Folders and globs keep only image extensions; files are taken as named (the decoder
/// says if one is not an image). Expanded lists are in ordinal order, so output is reproducible.
/// </summary>
internal static class ImageArguments
{
    /// <exception cref="MLTransferException">An argument that is neither a file nor a folder, or a folder or glob with no images.</exception>
    public static List<string> Expand(IEnumerable<string> arguments)
    {
        var files = new List<string>();
        foreach (var argument in arguments)
        {
            if (Directory.Exists(argument))
                files.AddRange(Images(Directory.EnumerateFiles(argument, "*", SearchOption.AllDirectories), argument, "folder"));
            else if (argument.IndexOfAny(['*', '?']) >= 0 && !File.Exists(argument))
                files.AddRange(Images(Glob(argument), argument, "pattern"));
            else
                files.Add(argument);
        }
        return files;
    }

    private static IEnumerable<string> Images(IEnumerable<string> candidates, string argument, string kind)
    {
        var images = candidates.Where(f => DatasetLoadOptions.DefaultExtensions.Contains(Path.GetExtension(f), StringComparer.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal).ToList();
        if (images.Count == 0)
            throw new MLTransferException($"The {kind} '{argument}' holds no image files ({string.Join(", ", DatasetLoadOptions.DefaultExtensions)})", argument,
                "Check the path; quote a pattern so the shell does not expand it first");
        return images;
    }

    /// <summary>Files matching a pattern: the part before the first wildcard is the folder searched.</summary>
    private static IEnumerable<string> Glob(string pattern)
    {
        var normalised = pattern.Replace('\\', '/');
        var firstWild = normalised.IndexOfAny(['*', '?']);
        var slash = normalised.LastIndexOf('/', firstWild);
        var root = slash < 0 ? "." : normalised[..slash] is "" ? "/" : normalised[..slash];
        var rest = slash < 0 ? normalised : normalised[(slash + 1)..];
        if (!Directory.Exists(root))
            return [];
        var regex = new Regex("^" + Regex.Escape(rest).Replace(@"\*\*/", "(.*/)?").Replace(@"\*\*", ".*").Replace(@"\*", "[^/]*").Replace(@"\?", "[^/]") + "$",
            OperatingSystem.IsWindows() ? RegexOptions.IgnoreCase : RegexOptions.None);
        var prefix = slash < 0 ? "" : normalised[..(slash + 1)];
        return Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/'))
            .Where(r => regex.IsMatch(r))
            .Select(r => prefix + r);
    }
}
