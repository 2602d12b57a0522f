using System.Security.Cryptography;

namespace MLTransfer.Data;

/// <summary>Content hashes for finding identical files; pass <see cref="Sha256Of"/> to <see cref="DatasetSplitter.Split"/>.</summary>
public static class ContentHasher
{
    /// <summary>Lower-case hex SHA-256 of a file's bytes, read as a stream so large files are not loaded whole.</summary>
    /// <param name="path">The file to hash.</param>
    /// <exception cref="MLTransferException">The file cannot be read.</exception>
    public static string Sha256Of(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
            return Convert.ToHexStringLower(SHA256.HashData(stream));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new MLTransferException("Cannot read a file to compute its content hash", path,
                "Check that the file still exists and is readable", ex);
        }
    }
}
