namespace MLTransfer.Features;

/// <summary>
/// An image to turn into features: a file, read only when its features are not cached, or encoded bytes
/// (an ML.NET raw-bytes column). <see cref="ContentHash"/> carries the SHA-256 the dataset split already
/// computed, so each file is hashed once per run and a cached file is not read at all.
/// </summary>
/// <param name="Name">How the image is named in skip reasons and logs (its path, or a row number).</param>
/// <param name="Path">The file, or null for <paramref name="Bytes"/>.</param>
/// <param name="Bytes">Encoded bytes, or null for <paramref name="Path"/>.</param>
/// <param name="ContentHash">Lower-case hex SHA-256 of the content when already known, else null.</param>
internal sealed record ImageSource(string Name, string? Path, byte[]? Bytes, string? ContentHash)
{
    /// <summary>A file, with its content hash when known.</summary>
    public static ImageSource File(string path, string? contentHash = null) => new(path, path, null, contentHash);

    /// <summary>Encoded image bytes.</summary>
    public static ImageSource Encoded(byte[] bytes, string name) => new(name, null, bytes, null);

    /// <summary>Files, in order.</summary>
    public static IReadOnlyList<ImageSource> Files(IEnumerable<string> paths) => paths.Select(p => File(p)).ToList();
}
