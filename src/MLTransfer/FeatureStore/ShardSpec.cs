using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace MLTransfer.FeatureStore;

/// <summary>
/// One shard of an extraction split over <see cref="Count"/> tasks: shard <see cref="Index"/> holds the images
/// whose relative path hashes to it, so re-running a shard covers the same images and adding files moves none.
/// </summary>
/// <param name="Index">0-based shard index, below <paramref name="Count"/>.</param>
/// <param name="Count">Number of shards.</param>
public sealed partial record ShardSpec(int Index, int Count)
{
    /// <summary>Most shards a feature folder may hold; a listing of more files than this is no longer "small".</summary>
    public const int MaxCount = 100_000;

    /// <summary>Everything in one shard.</summary>
    public static ShardSpec Single { get; } = new(0, 1);

    /// <summary>The shard's file name inside the feature folder, e.g. <c>shard-00002-of-00003.parquet</c>.</summary>
    public string FileName => string.Create(CultureInfo.InvariantCulture, $"shard-{Index:D5}-of-{Count:D5}.parquet");

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Index}/{Count}");

    /// <summary>The first problem of this spec, or null.</summary>
    internal string? Problem() =>
        Count is < 1 or > MaxCount ? string.Create(CultureInfo.InvariantCulture, $"the shard count must be from 1 to {MaxCount}, not {Count}")
        : Index < 0 || Index >= Count ? string.Create(CultureInfo.InvariantCulture, $"the shard index must be from 0 to {Count - 1} (0-based), not {Index}")
        : null;

    /// <summary>Parses <c>I/N</c> (0-based index, count).</summary>
    /// <exception cref="MLTransferException">Not of that form, or out of range.</exception>
    public static ShardSpec Parse(string text)
    {
        var parts = text.Split('/');
        if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var i)
            || !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            throw new MLTransferException($"A shard is written I/N (0-based index / count), not '{text}'", null, "Example: ShardSpec.Parse(\"2/3\") (CLI: --shard 2/3) is the third of three shards");
        var spec = new ShardSpec(i, n);
        if (spec.Problem() is { } problem)
            throw new MLTransferException($"Bad shard '{text}': {problem}", null, "Example: ShardSpec.Parse(\"2/3\") (CLI: --shard 2/3) is the third of three shards");
        return spec;
    }

    /// <summary>The shard that holds <paramref name="relativePath"/> ('/'-separated, relative to the dataset root) among <paramref name="count"/>.</summary>
    /// <remarks>
    /// A hash of the path rather than a position in the listing: a position moves whenever a file is added
    /// before it, a hash never does, and every task computes it without seeing the others' files.
    /// </remarks>
    public static int ShardOf(string relativePath, int count)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(relativePath), hash);
        return (int)(BinaryPrimitives.ReadUInt64BigEndian(hash) % (ulong)count);
    }

    /// <summary>Whether this shard holds <paramref name="relativePath"/>.</summary>
    public bool Holds(string relativePath) => ShardOf(relativePath, Count) == Index;

    /// <summary>The spec a shard file name encodes, or null for any other name.</summary>
    internal static ShardSpec? FromFileName(string name)
    {
        var m = FileNamePattern().Match(name);
        if (!m.Success)
            return null;
        var spec = new ShardSpec(int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture));
        return spec.Problem() is null ? spec : null;
    }

    [GeneratedRegex(@"^shard-(\d{5})-of-(\d{5})\.parquet$")]
    private static partial Regex FileNamePattern();
}
