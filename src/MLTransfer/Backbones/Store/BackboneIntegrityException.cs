using System.Security.Cryptography;

namespace MLTransfer.Backbones.Store;

/// <summary>
/// A backbone file whose size or SHA-256 differs from its catalog record. Such a file is never used
/// (and a downloaded one is deleted, never cached).
/// </summary>
/// <param name="description">The record the file was checked against.</param>
/// <param name="path">The file checked.</param>
/// <param name="actualSha256">The hash of the file.</param>
/// <param name="actualSize">The size of the file.</param>
/// <param name="what">What is wrong.</param>
/// <param name="fix">What to do.</param>
internal sealed class BackboneIntegrityException(BackboneDescription description, string path, string? actualSha256, long actualSize, string what, string fix)
    : MLTransferException(what, path, fix)
{
    /// <summary>The record the file was checked against.</summary>
    public BackboneDescription Description => description;
    /// <summary>The file checked.</summary>
    public string FilePath => Where!;
    /// <summary>The expected hash (from the record).</summary>
    public string? ExpectedSha256 => Description.Sha256;
    /// <summary>The hash of the file.</summary>
    public string? ActualSha256 => actualSha256;
    /// <summary>The expected size (from the record).</summary>
    public long? ExpectedSize => Description.SizeBytes;
    /// <summary>The size of the file.</summary>
    public long ActualSize => actualSize;
}

/// <summary>SHA-256 and size checks of backbone files against their records.</summary>
internal static class BackboneFileVerifier
{
    /// <summary>Lower-case hex SHA-256 of a file.</summary>
    public static string ComputeSha256(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Convert.ToHexStringLower(SHA256.HashData(fs));
    }

    /// <summary>Lower-case hex SHA-256 of a file, asynchronously.</summary>
    public static async Task<string> ComputeSha256Async(string path, CancellationToken ct = default)
    {
        await using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, useAsync: true);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(fs, ct).ConfigureAwait(false));
    }

    /// <summary>
    /// Whether size and hash match the record: null when the record has no checksum (and no size),
    /// else true/false. <paramref name="problem"/> describes a mismatch.
    /// </summary>
    public static bool? Matches(BackboneDescription d, string actualSha256, long actualSize, out string? problem)
    {
        var parts = new List<string>();
        if (d.SizeBytes is long expectedSize && expectedSize != actualSize)
            parts.Add($"size {actualSize:N0} bytes, expected {expectedSize:N0}");
        if (d.Sha256 is { } expectedSha && !string.Equals(expectedSha, actualSha256, StringComparison.OrdinalIgnoreCase))
            parts.Add($"SHA-256 {actualSha256}, expected {expectedSha}");
        problem = parts.Count == 0 ? null : string.Join("; ", parts);
        if (problem is not null) return false;
        return d.Sha256 is null && d.SizeBytes is null ? null : true;
    }

    /// <summary>
    /// Hashes <paramref name="path"/> and returns the hash when it matches <paramref name="d"/>.
    /// </summary>
    /// <param name="d">The record.</param>
    /// <param name="path">The file.</param>
    /// <param name="location">Where the file lives (for the remedy in the message).</param>
    /// <exception cref="BackboneIntegrityException">Size or hash differs.</exception>
    public static string VerifyOrThrow(BackboneDescription d, string path, BackboneLocation location)
    {
        var size = new FileInfo(path).Length;
        var sha = ComputeSha256(path);
        if (Matches(d, sha, size, out var problem) == false)
            throw Mismatch(d, path, sha, size, problem!, location);
        return sha;
    }

    internal static BackboneIntegrityException Mismatch(BackboneDescription d, string path, string sha, long size,
        string problem, BackboneLocation location)
    {
        var what = $"Backbone '{d.Name}' file does not match its catalog record ({problem}); refusing to use it";
        var fix = location switch
        {
            BackboneLocation.Cache =>
                $"Delete the file and run 'mltransfer backbones pull {d.Name}' (or let the next run download it again).",
            BackboneLocation.Downloaded =>
                "The downloaded file was deleted and not cached. The server may serve a different version (or a proxy " +
                "altered it): retry later, or check the URL and the catalog record.",
            _ =>
                $"Replace it with the correct {d.FileName} (SHA-256 {d.Sha256 ?? "unknown"}), remove it from the folder, " +
                "or, if this is deliberately another version, give it its own record in the user catalog.",
        };
        return new BackboneIntegrityException(d, path, sha, size, what, fix);
    }
}
