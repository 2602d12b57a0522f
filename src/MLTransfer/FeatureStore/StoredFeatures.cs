using System.Globalization;
using MLTransfer.Backbones.Store;

namespace MLTransfer.FeatureStore;

/// <summary>Where a row lives: shard (position in <see cref="StoredFeatures.Files"/>), row group, row.</summary>
internal readonly record struct RowAddress(int Shard, int Group, int Row);

/// <summary>A stored row's key and address.</summary>
internal sealed record StoredRow(RowAddress At, ShardKey Key);

/// <summary>
/// A verified feature folder: every shard of the manifest present, intact (size and SHA-256), of the same
/// backbone, preprocessing and count, no image twice. Holds the rows' keys; vectors are read on demand, row
/// group by row group, so memory does not grow with the number of images.
/// </summary>
internal sealed class StoredFeatures
{
    private StoredFeatures(string folder, FeatureManifest manifest, IReadOnlyList<string> files, IReadOnlyList<StoredRow> rows, IReadOnlyList<ShardSkip> skipped, string root)
    {
        Folder = folder;
        Manifest = manifest;
        Files = files;
        Rows = rows;
        Skipped = skipped;
        DatasetRoot = root;
    }

    public string Folder { get; }
    public FeatureManifest Manifest { get; }
    public FeatureSignature Signature => Manifest.Signature;
    public IReadOnlyList<string> Files { get; }
    public IReadOnlyList<StoredRow> Rows { get; }
    public IReadOnlyList<ShardSkip> Skipped { get; }
    /// <summary>The dataset folder the first shard was extracted from (relative paths start there).</summary>
    public string DatasetRoot { get; }
    public int Width => Signature.FeatureWidth;

    /// <summary>Opens and verifies a feature folder.</summary>
    /// <exception cref="MLTransferException">A shard is missing, damaged, from another backbone or count, or an image is in two shards.</exception>
    /// <param name="folder">The feature folder.</param>
    /// <param name="log">Receives a summary line.</param>
    /// <param name="cancellation">Stops the verification.</param>
    /// <param name="keepKeys">
    /// Keep every row's key (path, hash, label, split: about 250 bytes a row) for the split and the duplicate check;
    /// false only verifies the files, for readers that stream every row.
    /// </param>
    public static StoredFeatures Open(string folder, Action<string>? log = null, CancellationToken cancellation = default, bool keepKeys = true)
    {
        var full = Path.GetFullPath(folder);
        if (!Directory.Exists(full))
            throw new MLTransferException("Feature folder not found", full, "Pass the features folder that FeatureShards.Extract wrote (CLI: --features, from mltransfer extract)");
        var manifest = FeatureManifest.Read(full)
            ?? throw new MLTransferException($"The feature folder has no {FeatureManifest.FileName}: no shard has finished there", full,
                "Extract into it first with FeatureShards.Extract (CLI: mltransfer extract --features); each task adds its shard to the manifest when it finishes");
        var n = manifest.ShardCount;
        foreach (var file in Directory.EnumerateFiles(full, "shard-*.parquet").Order(StringComparer.Ordinal))
        {
            var spec = ShardSpec.FromFileName(Path.GetFileName(file));
            if (spec is not null && spec.Count != n)
                throw new MLTransferException(string.Create(CultureInfo.InvariantCulture,
                    $"Shards of two extractions are mixed: {Path.GetFileName(file)} belongs to {spec.Count} shards, the manifest to {n}"), file,
                    "Keep one extraction per folder: move the stray file out, or extract again into an empty folder");
        }
        var entries = manifest.Shards.ToDictionary(e => e.Index);
        var files = new List<string>();
        for (var i = 0; i < n; i++)
        {
            var path = Path.Combine(full, new ShardSpec(i, n).FileName);
            if (!entries.TryGetValue(i, out var entry))
                throw new MLTransferException(File.Exists(path)
                    ? $"Shard {i} of {n} is not in the manifest: its task has not finished (or was stopped before it recorded the shard)"
                    : $"Shard {i} of {n} is missing", path, $"Extract shard {i}/{n} (ShardExtractionOptions.Shard, CLI: mltransfer extract --shard {i}/{n}) or let the scheduler retry that task, then train again");
            if (!File.Exists(path))
                throw new MLTransferException($"Shard {i} of {n} is listed in the manifest but its file is missing", path,
                    $"Extract shard {i}/{n} again (CLI: mltransfer extract --shard {i}/{n}), then train again");
            files.Add(path);
        }

        var rows = new List<StoredRow>();
        var skipped = new List<ShardSkip>();
        var owner = new Dictionary<string, int>(StringComparer.Ordinal);
        string? root = null;
        for (var s = 0; s < n; s++)
        {
            cancellation.ThrowIfCancellationRequested();
            var entry = entries[s];
            var path = files[s];
            var length = new FileInfo(path).Length;
            if (length != entry.Bytes)
                throw new MLTransferException(string.Create(CultureInfo.InvariantCulture,
                    $"The feature shard is damaged or incomplete: it is {length} bytes, the manifest recorded {entry.Bytes}"), path,
                    $"Extract it again (ShardExtractionOptions.Shard, CLI: mltransfer extract --shard {s}/{n})");
            if (BackboneFileVerifier.ComputeSha256(path) != entry.Sha256)
                throw new MLTransferException("The feature shard is damaged: its SHA-256 is not the one the manifest recorded", path,
                    $"Extract it again (ShardExtractionOptions.Shard, CLI: mltransfer extract --shard {s}/{n})");
            using var reader = ShardReader.Open(path);
            var facts = reader.Facts;
            if (facts.Shard != new ShardSpec(s, n))
                throw new MLTransferException($"The feature shard says it is shard {facts.Shard}, its name says {s}/{n}", path, "Extract it again into this folder");
            if (facts.Signature.DifferenceFrom(manifest.Signature) is { } difference)
                throw new MLTransferException($"Shards from two backbones or preprocessings are mixed: {difference}", path,
                    "Keep one backbone per feature folder: extract this shard again with the manifest's backbone, or extract all shards into a new folder");
            if (facts.Rows != entry.Rows || facts.Skipped.Count != entry.Skipped)
                throw new MLTransferException("The feature shard's row counts differ from the manifest's", path, $"Extract it again (ShardExtractionOptions.Shard, CLI: mltransfer extract --shard {s}/{n})");
            root ??= facts.DatasetRoot;
            void Claim(string relative)
            {
                if (owner.TryGetValue(relative, out var first))
                    throw new MLTransferException($"The image {relative} is in two shards, {Path.GetFileName(files[first])} and {Path.GetFileName(path)}", path,
                        "The shards come from different extractions; extract again into an empty folder");
                owner[relative] = s;
            }
            for (var g = 0; keepKeys && g < reader.RowGroupCount; g++)
            {
                var keys = reader.ReadKeys(g);
                for (var r = 0; r < keys.Count; r++)
                {
                    Claim(keys[r].Path);
                    rows.Add(new StoredRow(new RowAddress(s, g, r), keys[r]));
                }
            }
            foreach (var skip in facts.Skipped)
            {
                if (keepKeys)
                    Claim(skip.Path);
                skipped.Add(skip);
            }
        }
        log?.Invoke(string.Create(CultureInfo.InvariantCulture,
            $"features: {full}: {n} shard(s) verified, {manifest.Shards.Sum(e => e.Rows)} rows of {manifest.Signature.FeatureWidth} floats from {manifest.Signature.BackboneName} ({manifest.Signature.Precision}), {skipped.Count} image(s) without features"));
        return new StoredFeatures(full, manifest, files, rows, skipped, root ?? full);
    }

    /// <summary>
    /// The vectors of the rows <paramref name="wanted"/> selects, in storage order, one row group in memory at a
    /// time, each row's key read with it (not taken from <see cref="Rows"/>, so a reader that does not keep the
    /// keys streams in flat memory). Each call reads the files again, so the sequence can be enumerated once per
    /// training pass.
    /// </summary>
    public IEnumerable<(ShardKey Key, float[] Features)> Stream(Func<ShardKey, bool> wanted)
    {
        var width = Width;
        using var buffers = new FeatureBuffers();
        foreach (var file in Files)
        {
            using var reader = ShardReader.Open(file);
            for (var g = 0; g < reader.RowGroupCount; g++)
            {
                var keys = reader.ReadKeys(g);
                var keep = keys.Select(wanted).ToArray();
                if (!keep.Contains(true))
                    continue;
                var values = reader.ReadFeatures(g, buffers);
                for (var r = 0; r < keys.Count; r++)
                    if (keep[r])
                        yield return (keys[r], values.Slice(r * width, width).ToArray());
            }
        }
    }
}
