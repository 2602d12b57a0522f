using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using MLTransfer.Backbones;
using MLTransfer.Backbones.Store;
using MLTransfer.Data;
using MLTransfer.Export;
using MLTransfer.Features;
using MLTransfer.FeatureStore;

namespace MLTransfer.Training;

/// <summary>Options of one extraction task (<see cref="FeatureShards.Extract"/>).</summary>
public sealed record ShardExtractionOptions
{
    /// <summary>Which shard this task writes; see <see cref="ShardAssignment.Resolve"/> for the scheduler's environment.</summary>
    public ShardSpec Shard { get; init; } = ShardSpec.Single;
    /// <summary>The backbone and where it comes from.</summary>
    public BackboneSource Backbone { get; init; } = new();
    /// <summary>
    /// The feature cache that makes a killed task resume; null puts it in the feature folder
    /// (<c>_work/shard-I-of-N</c>, on the shared volume, so a task restarted on another machine resumes too) and
    /// deletes it once the shard is written.
    /// </summary>
    public FeatureCacheOptions? Cache { get; init; }
    /// <summary>Batch size, threads and progress of extraction.</summary>
    public FeatureExtractionOptions Extraction { get; init; } = new();
    /// <summary>Receives one line per step.</summary>
    public Action<string>? Log { get; init; }
}

/// <summary>What one extraction task did.</summary>
/// <param name="ShardFile">The shard file.</param>
/// <param name="Shard">The shard.</param>
/// <param name="AlreadyComplete">True when the shard was already there for the same images and backbone, so nothing was done.</param>
/// <param name="Rows">Feature rows in the shard.</param>
/// <param name="Skipped">Images of the shard without features (unreadable or undecodable).</param>
/// <param name="Extracted">Images run through the backbone by this task.</param>
/// <param name="FromCache">Images whose features came from the cache (a resumed task).</param>
/// <param name="Elapsed">Wall time of the task.</param>
public sealed record ShardExtractionResult(string ShardFile, ShardSpec Shard, bool AlreadyComplete, long Rows, int Skipped, int Extracted, int FromCache, TimeSpan Elapsed)
{
    /// <summary>Backbone images per second of this task (0 when none ran).</summary>
    public double ImagesPerSecond => Extracted > 0 && Elapsed.TotalSeconds > 0 ? Extracted / Elapsed.TotalSeconds : 0;
}

/// <summary>
/// Extraction as the tasks of a batch scheduler: each task turns its shard of the images (chosen by a hash
/// of the relative path) into one Parquet file in a shared feature folder, which
/// <see cref="TransferLearner.TrainFromFeatures"/>, Spark, DuckDB or pandas then read.
/// </summary>
public static class FeatureShards
{
    /// <summary>Extracts one shard of <paramref name="dataPath"/> into <paramref name="featuresPath"/>.</summary>
    /// <remarks>
    /// The shard file appears atomically (temporary sibling, then rename) and is then added to the folder's
    /// manifest. Re-running a finished shard does nothing; a killed one resumes from its cache.
    /// </remarks>
    /// <exception cref="MLTransferException">Bad options or data, a missing backbone, or a folder holding shards of another count or backbone.</exception>
    public static ShardExtractionResult Extract(string dataPath, string featuresPath, ShardExtractionOptions? options = null, CancellationToken cancellation = default)
    {
        options ??= new ShardExtractionOptions();
        var log = options.Log ?? (_ => { });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var shard = options.Shard;
        var problem = shard.Problem() ?? options.Extraction.Problem() ?? options.Cache?.Problem();
        if (problem is not null)
            throw new MLTransferException($"Invalid options: {problem}", null, "Fix the option (the CLI's --help gives every range)");
        if (string.IsNullOrWhiteSpace(featuresPath))
            throw new MLTransferException("The feature folder path is empty", null, "Pass a folder as featuresPath (CLI: --features features/flowers)");
        var folder = Path.GetFullPath(featuresPath);
        if (File.Exists(folder))
            throw new MLTransferException("The feature folder is a file", folder, "Pass a folder (it is created if needed)");
        var shardPath = Path.Combine(folder, shard.FileName);

        var dataset = DatasetLoader.Load(dataPath);
        foreach (var warning in dataset.Warnings)
            log($"warning: {warning}");
        var (resolved, prepared) = BackbonePreparation.Run(options.Backbone, log, cancellation);
        var key = new FeatureCacheKey(resolved.Sha256, prepared);
        var signature = new FeatureSignature(resolved.Description.Name, resolved.Sha256, key.Preprocessing, prepared.Precision ?? "float32", prepared.FeatureSize);

        // Nothing is written, or even created, before every refusal has had its chance.
        var inputs = OutputGuard.InputsOf(dataPath).Append(resolved.FilePath).ToList();
        OutputGuard.Check(shardPath, OutputKind.FeatureShard, inputs);
        FeatureManifest.CheckCompatible(folder, shard, signature);

        var mine = dataset.Images
            .Select(i => (Image: i, Relative: PathUtil.PortableRelative(dataset.Root, i.Path)))
            .Where(x => shard.Holds(x.Relative))
            .OrderBy(x => x.Relative, StringComparer.Ordinal)
            .ToList();
        var listing = ListingDigest(mine.Select(x => (x.Relative, x.Image.Label, SplitName(x.Image.Split))));
        log(string.Create(CultureInfo.InvariantCulture, $"shard {shard}: {mine.Count} of the dataset's {dataset.Images.Count} images -> {shardPath}"));

        if (Finished(shardPath, signature, listing, log) is { } done)
        {
            var entry = Register(folder, shard, signature, shardPath, done, cancellation);
            log($"shard {shard} is already complete ({done.Rows} rows, {done.Skipped.Count} skipped); nothing to do");
            return new ShardExtractionResult(shardPath, shard, true, entry.Rows, entry.Skipped, 0, 0, clock.Elapsed);
        }

        var (hashes, unreadable) = ContentHasher.HashAll(mine.Select(x => x.Image.Path).ToList(), cancellation);
        var unreadableReason = unreadable.ToDictionary(u => u.Path, u => u.Reason, PathUtil.Comparer);
        var skipped = mine.Where(x => unreadableReason.ContainsKey(x.Image.Path))
            .Select(x => new ShardSkip(x.Relative, x.Image.Label, SplitName(x.Image.Split), null, unreadableReason[x.Image.Path]))
            .ToList();
        var readable = mine.Where(x => hashes.ContainsKey(x.Image.Path)).ToList();

        var ownCache = options.Cache is null;
        var cacheOptions = options.Cache ?? new FeatureCacheOptions { WorkspacePath = Path.Combine(folder, "_work", Path.GetFileNameWithoutExtension(shard.FileName)) };
        int extracted = 0, fromCache = 0;
        ShardFacts? facts = null;
        ProcessTemp.WriteAtomically(shardPath, temp =>
        {
            using var session = new BackboneSession(prepared, options.Extraction.InferenceThreads);
            using var cache = FeatureCache.OpenFor(cacheOptions, key, log, cancellation);
            using var writer = new ShardWriter(temp, prepared.FeatureSize);
            var progress = options.Extraction.Progress;
            for (var start = 0; start < readable.Count; start += ShardSchema.RowGroupRows)
            {
                var chunk = readable.Skip(start).Take(ShardSchema.RowGroupRows).ToList();
                var offset = new ExtractionProgress(start, readable.Count, fromCache, skipped.Count, clock.Elapsed);
                var chunkOptions = options.Extraction with { Progress = progress is null ? null : new OffsetProgress(progress, offset) };
                var sources = chunk.Select(x => ImageSource.File(x.Image.Path, hashes[x.Image.Path])).ToList();
                var result = FeatureExtractor.Extract(sources, session, cache, chunkOptions, cancellation);
                var reasons = result.Skipped.ToDictionary(s => s.Path, s => s.Reason, PathUtil.Comparer);
                var rows = new List<ShardRow>(chunk.Count);
                for (var i = 0; i < chunk.Count; i++)
                {
                    var (image, relative) = chunk[i];
                    if (result.Features[i] is { } features)
                        rows.Add(new ShardRow(relative, hashes[image.Path], image.Label, SplitName(image.Split), features));
                    else
                        skipped.Add(new ShardSkip(relative, image.Label, SplitName(image.Split), hashes[image.Path], reasons.GetValueOrDefault(image.Path, "no features")));
                }
                writer.Write(rows);
                (extracted, fromCache) = (extracted + result.Extracted, fromCache + result.FromCache);
            }
            var written = new ShardFacts(signature, shard, writer.Rows, listing, dataset.Root, ShardFacts.CurrentToolVersion,
                skipped.OrderBy(s => s.Path, StringComparer.Ordinal).ToList());
            writer.Complete(written);
            facts = written;
        }, "the feature shard", "Check that the feature folder is writable and has space; a rerun resumes from the features already extracted");
        var written = facts!;
        var registered = Register(folder, shard, signature, shardPath, written, cancellation);
        if (ownCache)
            TryDeleteFolder(cacheOptions.ResolvedWorkspace);
        var elapsed = clock.Elapsed;
        log(string.Create(CultureInfo.InvariantCulture,
            $"shard {shard}: {registered.Rows} rows written ({extracted} extracted at {(extracted > 0 ? extracted / elapsed.TotalSeconds : 0):F0} images/s, {fromCache} from the cache, {registered.Skipped} skipped) in {elapsed.TotalSeconds:F1} s"));
        foreach (var s in written.Skipped)
            log($"skipped: {s.Path}: {s.Reason}");
        return new ShardExtractionResult(shardPath, shard, false, registered.Rows, registered.Skipped, extracted, fromCache, elapsed);
    }

    /// <summary>The facts of a finished shard for the same images and backbone, or null when it must be (re)done.</summary>
    private static ShardFacts? Finished(string shardPath, FeatureSignature signature, string listing, Action<string> log)
    {
        if (!File.Exists(shardPath))
            return null;
        ShardFacts facts;
        try
        {
            using var reader = ShardReader.Open(shardPath);
            facts = reader.Facts;
        }
        catch (MLTransferException e)
        {
            log($"shard file is unusable, extracting it again: {e.What}");
            return null;
        }
        if (facts.Signature.DifferenceFrom(signature) is { } difference)
            throw new MLTransferException($"The shard file comes from another backbone or preprocessing: {difference}", shardPath,
                "Extract into a new, empty features folder (CLI: --features; one folder per backbone); nothing was written");
        if (facts.ListingSha256 != listing)
        {
            log("the shard's images changed since it was written (files added, removed or relabelled); extracting it again");
            return null;
        }
        return facts;
    }

    private static ShardEntry Register(string folder, ShardSpec shard, FeatureSignature signature, string shardPath, ShardFacts facts, CancellationToken cancellation)
    {
        try
        {
            var sha = BackboneFileVerifier.ComputeSha256(shardPath);
            var entry = new ShardEntry(shard.Index, shard.FileName, facts.Rows, facts.Skipped.Count, new FileInfo(shardPath).Length, sha);
            FeatureManifest.Register(folder, shard.Count, signature, entry, cancellation);
            return entry;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MLTransferException($"The shard was written but could not be recorded in the manifest: {e.Message}", Path.Combine(folder, FeatureManifest.FileName),
                $"Check that the folder is writable and has space, then run the same task again: it finds the shard complete and records it");
        }
    }

    /// <summary>A digest of a partition's images, so a finished shard is redone when its images change.</summary>
    internal static string ListingDigest(IEnumerable<(string Relative, string Label, string? Split)> images)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var (relative, label, split) in images)
            hash.AppendData(Encoding.UTF8.GetBytes($"{relative}\0{label}\0{split}\n"));
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    internal static string? SplitName(DatasetSplit? split) => split switch
    {
        DatasetSplit.Train => "train",
        DatasetSplit.Validation => "validation",
        DatasetSplit.Test => "test",
        _ => null,
    };


    private static void TryDeleteFolder(string path)
    {
        try
        {
            if (Directory.Exists(path))
                Directory.Delete(path, recursive: true);
            var parent = Path.GetDirectoryName(path);
            if (parent is not null && Directory.Exists(parent) && !Directory.EnumerateFileSystemEntries(parent).Any())
                Directory.Delete(parent);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    /// <summary>Reports a chunk's progress as progress through the whole shard.</summary>
    private sealed class OffsetProgress(IProgress<ExtractionProgress> inner, ExtractionProgress offset) : IProgress<ExtractionProgress>
    {
        public void Report(ExtractionProgress value) =>
            inner.Report(new ExtractionProgress(offset.Done + value.Done, offset.Total, offset.FromCache + value.FromCache, offset.Skipped + value.Skipped,
                offset.Elapsed + value.Elapsed));
    }
}
