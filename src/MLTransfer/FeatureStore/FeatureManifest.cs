using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace MLTransfer.FeatureStore;

/// <summary>A finished shard as the manifest lists it.</summary>
/// <param name="Index">Shard index.</param>
/// <param name="File">File name inside the feature folder.</param>
/// <param name="Rows">Feature rows.</param>
/// <param name="Skipped">Images of the partition without features.</param>
/// <param name="Bytes">File size.</param>
/// <param name="Sha256">SHA-256 of the file.</param>
public sealed record ShardEntry(int Index, string File, long Rows, int Skipped, long Bytes, string Sha256);

/// <summary>
/// <c>_manifest.json</c> of a feature folder: the shard count, what every shard shares, and each finished
/// shard with its row count, size and checksum. The leading underscore keeps Spark and Hive from reading
/// it (and the lock file) as data.
/// </summary>
/// <param name="Format">Layout version.</param>
/// <param name="ShardCount">Number of shards the extraction was split into.</param>
/// <param name="Signature">What every shard shares.</param>
/// <param name="Shards">Finished shards, by index.</param>
public sealed record FeatureManifest(int Format, int ShardCount, FeatureSignature Signature, IReadOnlyList<ShardEntry> Shards)
{
    /// <summary>The manifest's file name.</summary>
    public const string FileName = "_manifest.json";
    private const string LockName = "_manifest.lock";
    private const long MaxBytes = 64 << 20;

    /// <summary>The manifest of <paramref name="folder"/>, or null when there is none yet.</summary>
    /// <exception cref="MLTransferException">It is there but too large, unreadable or inconsistent.</exception>
    public static FeatureManifest? Read(string folder)
    {
        var path = Path.Combine(Path.GetFullPath(folder), FileName);
        if (!File.Exists(path))
            return null;
        MLTransferException Bad(string why, Exception? e = null) =>
            new($"The feature folder's manifest is unusable: {why}", path, "Extract the shards again into an empty folder", e);
        FeatureManifest? manifest;
        try
        {
            var length = new FileInfo(path).Length;
            if (length > MaxBytes)
                throw Bad($"it is {length} bytes, more than a manifest of {ShardSpec.MaxCount} shards needs");
            using var stream = File.OpenRead(path);
            manifest = JsonSerializer.Deserialize<FeatureManifest>(stream, ShardJson.Options);
        }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
        {
            throw Bad(e.Message, e);
        }
        if (manifest is null || manifest.Signature is null || manifest.Shards is null)
            throw Bad("a field is missing");
        if (manifest.Format != 1)
            throw Bad($"format {manifest.Format}, this version reads format 1");
        if (manifest.ShardCount is < 1 or > ShardSpec.MaxCount)
            throw Bad(string.Create(CultureInfo.InvariantCulture, $"shard count {manifest.ShardCount}"));
        foreach (var e in manifest.Shards)
        {
            if (e is null || e.Index < 0 || e.Index >= manifest.ShardCount || e.File != new ShardSpec(e.Index, manifest.ShardCount).FileName
                || e.Sha256 is not { Length: 64 } || e.Rows < 0 || e.Bytes < 0 || e.Skipped < 0)
                throw Bad($"a shard entry is malformed ({e?.File ?? "null"})");
        }
        var twice = manifest.Shards.GroupBy(e => e.Index).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null)
            throw Bad($"shard {twice.Key} is listed {twice.Count()} times");
        return manifest;
    }

    /// <summary>
    /// Refuses to add a shard of <paramref name="shard"/>'s count and <paramref name="signature"/> to a folder
    /// that holds shards of another count or from another backbone or preprocessing, naming the file that disagrees.
    /// </summary>
    public static void CheckCompatible(string folder, ShardSpec shard, FeatureSignature signature)
    {
        var full = Path.GetFullPath(folder);
        if (Read(full) is { } manifest)
        {
            var where = Path.Combine(full, FileName);
            if (manifest.ShardCount != shard.Count)
                throw new MLTransferException(string.Create(CultureInfo.InvariantCulture,
                    $"The shard count changed: this folder's shards were extracted as {manifest.ShardCount} shards, this run asks for {shard.Count}"), where,
                    $"Run every task with the same count ({manifest.ShardCount}), or extract into a new, empty features folder (CLI: --features); nothing was written");
            if (manifest.Signature.DifferenceFrom(signature) is { } difference)
                throw new MLTransferException($"This folder's shards come from another backbone or preprocessing: {difference}", where,
                    "Extract into a new, empty features folder (CLI: --features; one folder per backbone); nothing was written");
        }
        if (!Directory.Exists(full))
            return;
        foreach (var file in Directory.EnumerateFiles(full, "shard-*.parquet"))
        {
            if (ShardSpec.FromFileName(Path.GetFileName(file)) is { } other && other.Count != shard.Count)
                throw new MLTransferException(string.Create(CultureInfo.InvariantCulture,
                    $"The shard count changed: {Path.GetFileName(file)} belongs to an extraction in {other.Count} shards, this run asks for {shard.Count}"), file,
                    $"Run every task with the same count ({other.Count}), or extract into a new, empty features folder (CLI: --features); nothing was written");
        }
    }

    /// <summary>Adds (or replaces) a finished shard's entry, under the folder's lock so concurrent tasks do not lose each other's entries.</summary>
    public static void Register(string folder, int shardCount, FeatureSignature signature, ShardEntry entry, CancellationToken cancellation)
    {
        var full = Path.GetFullPath(folder);
        using var held = Lock(full, cancellation);
        var current = Read(full);
        if (current is not null && (current.ShardCount != shardCount || current.Signature.DifferenceFrom(signature) is not null))
            CheckCompatible(full, new ShardSpec(entry.Index, shardCount), signature);
        var shards = (current?.Shards ?? []).Where(e => e.Index != entry.Index).Append(entry).OrderBy(e => e.Index).ToList();
        var manifest = new FeatureManifest(1, shardCount, signature, shards);
        ProcessTemp.WriteAtomically(Path.Combine(full, FileName), temp => File.WriteAllText(temp, JsonSerializer.Serialize(manifest, ShardJson.Indented)),
            "the manifest (the shard itself was written)",
            "Check that the folder is writable and has space, then run the same task again: it finds the shard complete and records it");
    }

    /// <summary>
    /// An exclusive lock on the folder's lock file (flock on Unix, which NFSv4 and most shared volumes honour),
    /// held for the few milliseconds a manifest update takes.
    /// </summary>
    private static FileStream Lock(string folder, CancellationToken cancellation)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return new FileStream(Path.Combine(folder, LockName), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (clock.Elapsed < TimeSpan.FromMinutes(2))
            {
                if (cancellation.WaitHandle.WaitOne(TimeSpan.FromMilliseconds(50 + Random.Shared.Next(100))))
                    cancellation.ThrowIfCancellationRequested();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new MLTransferException($"Cannot lock the feature folder's manifest: {e.Message}", Path.Combine(folder, LockName),
                    "Check that the folder is writable by every task; a stuck lock holder can be found with lsof");
            }
        }
    }
}
