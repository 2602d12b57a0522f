using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace MLTransfer.Data;

/// <summary>Content hashes of image files: the key of duplicate detection and of the feature cache.</summary>
internal static class ContentHasher
{
    private static long _filesHashed;

    /// <summary>Files hashed by this process so far (a test checks that a run hashes each image once).</summary>
    internal static long FilesHashed => Interlocked.Read(ref _filesHashed);

    /// <summary>Lower-case hex SHA-256 of a file's bytes, read as a stream so large files are not loaded whole.</summary>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be read.</exception>
    public static string Sha256Of(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        var hash = Convert.ToHexStringLower(SHA256.HashData(stream));
        Interlocked.Increment(ref _filesHashed);
        return hash;
    }

    /// <summary>
    /// Hashes every file once, in parallel. A file that cannot be read is skipped with the reason, as
    /// extraction skips an image it cannot decode: one policy for unusable files, wherever they are found.
    /// </summary>
    public static (IReadOnlyDictionary<string, string> Hashes, IReadOnlyList<SkippedFile> Unreadable) HashAll(IReadOnlyList<string> paths, CancellationToken cancellation)
    {
        var hashes = new ConcurrentDictionary<string, string>(PathUtil.Comparer);
        var unreadable = new ConcurrentBag<SkippedFile>();
        Parallel.ForEach(paths, new ParallelOptions { CancellationToken = cancellation, MaxDegreeOfParallelism = Environment.ProcessorCount }, path =>
        {
            try
            {
                hashes[path] = Sha256Of(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                unreadable.Add(new SkippedFile(path, e is FileNotFoundException or DirectoryNotFoundException ? "file not found" : $"cannot read file: {e.Message}"));
            }
        });
        return (hashes, unreadable.OrderBy(s => s.Path, StringComparer.Ordinal).ToList());
    }
}
