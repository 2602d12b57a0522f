using System.Diagnostics;
using MLTransfer.Backbones;
using MLTransfer.Data;
using MLTransfer.Features;
using MLTransfer.FeatureStore;

namespace MLTransfer.Training;

/// <summary>The run's start when the features come from a feature folder instead of the images.</summary>
internal sealed partial class TrainingRun
{
    /// <summary>The verified feature folder, or null for a run on images.</summary>
    public StoredFeatures? Store { get; private init; }

    /// <summary>
    /// Opens and verifies a feature folder, resolves the backbone it was extracted with (for the saved chain),
    /// and rebuilds the dataset from the shards' rows, so the split is the one <see cref="Start"/> computes on
    /// the images: the same relative paths, labels, content hashes and given splits go into the same splitter.
    /// </summary>
    /// <exception cref="MLTransferException">A bad folder or shard, or a backbone that is not the one the features came from.</exception>
    public static TrainingRun StartFromFeatures(string featuresPath, TransferLearningOptions options, CancellationToken cancellation)
    {
        options.Validate();
        var log = options.Log ?? (_ => { });
        var store = StoredFeatures.Open(featuresPath, log, cancellation);
        var signature = store.Signature;
        var source = options.Backbone ?? new();
        if (source.Name is null)
            source = source with { Name = signature.BackboneName };
        var (resolved, prepared) = BackbonePreparation.Run(source, log, cancellation);
        if (!string.Equals(resolved.Sha256, signature.BackboneSha256, StringComparison.OrdinalIgnoreCase))
            throw new MLTransferException(
                $"The backbone {resolved.Description.Name} (SHA-256 {resolved.Sha256[..12]}…, {resolved.FilePath}) is not the one the features were extracted with ({signature.BackboneName}, SHA-256 {signature.BackboneSha256[..12]}…)",
                store.Folder, "Set BackboneSource.Name and Dirs (CLI: --backbone, --backbone-dir) to the backbone file the shards were extracted with; the model must run the same backbone");
        var precision = prepared.Precision ?? "float32";
        if (precision != signature.Precision)
            throw new MLTransferException(signature.Precision == "float32"
                    ? $"The features were extracted with the float backbone, but this run uses an int8 copy ({precision})"
                    : $"The features were extracted with an int8 copy of the backbone ({signature.Precision}), but this run uses {(precision == "float32" ? "the float backbone" : precision)}",
                store.Folder, "Give train the same BackboneSource.Int8Graph (CLI: --int8) that extract had (or none), so the saved model computes the features it was trained on");
        var preprocessing = new FeatureCacheKey(resolved.Sha256, prepared).Preprocessing;
        if (preprocessing != signature.Preprocessing || prepared.FeatureSize != signature.FeatureWidth)
            throw new MLTransferException($"The backbone's preprocessing here ('{preprocessing}') is not the one the features were extracted with ('{signature.Preprocessing}')",
                store.Folder, "Give train the same backbone preprocessing (BackboneSource.Adjust; CLI: --input-size, --resize, --mean, --std, --feature-tensor) that extract had");

        var root = store.DatasetRoot;
        string Full(string relative) => Path.Combine(root, relative.Replace('/', Path.DirectorySeparatorChar));
        var images = new List<LabeledImage>();
        var hashes = new Dictionary<string, string>(PathUtil.Comparer);
        var unreadable = new List<SkippedFile>();
        foreach (var row in store.Rows)
        {
            var path = Full(row.Key.Path);
            images.Add(new LabeledImage(path, row.Key.Label, ParseSplit(row.Key.Split, store.Files[row.At.Shard])));
            hashes[path] = row.Key.Sha256;
        }
        foreach (var skip in store.Skipped)
        {
            var path = Full(skip.Path);
            if (skip.Sha256 is null)
            {
                unreadable.Add(new SkippedFile(path, skip.Reason));
                continue;
            }
            images.Add(new LabeledImage(path, skip.Label, ParseSplit(skip.Split, store.Folder)));
            hashes[path] = skip.Sha256;
        }
        // As the loader does: classes and order come from every listed image, including those that cannot be read.
        var classNames = store.Rows.Select(r => r.Key.Label).Concat(store.Skipped.Select(s => s.Label)).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        var given = images.Count > 0 && images.All(i => i.Split is not null);
        var dataset = new Dataset
        {
            Root = root,
            Layout = given ? DatasetLayout.GivenSplit : DatasetLayout.ClassFolders,
            ClassNames = classNames,
            Images = images.OrderBy(i => i.Split).ThenBy(i => i.Label, StringComparer.Ordinal).ThenBy(i => i.Path, StringComparer.Ordinal).ToList(),
            Skipped = unreadable.OrderBy(s => s.Path, StringComparer.Ordinal).ToList(),
        };
        if (dataset.ClassNames.Count < 2)
            throw new MLTransferException($"The features hold {dataset.ClassNames.Count} class(es); a classifier needs at least two", store.Folder,
                "Extract a dataset with two or more class folders");
        var split = DatasetSplitter.Split(dataset, new SplitOptions(options.ValidationFraction, options.TestFraction, options.Seed), path => hashes[path]);
        foreach (var warning in split.Warnings)
            log($"warning: {warning}");
        return new TrainingRun(store.Folder, options, cancellation)
        {
            Dataset = dataset,
            Split = split,
            Backbone = new RunBackbone(new BackboneSpec([resolved.Description.Name], false), [(resolved, prepared)], prepared, resolved),
            Hashes = hashes,
            Store = store,
        };
    }

    private static DatasetSplit? ParseSplit(string? split, string file) => split switch
    {
        null => null,
        "train" => DatasetSplit.Train,
        "validation" => DatasetSplit.Validation,
        "test" => DatasetSplit.Test,
        _ => throw new MLTransferException($"A row's split is '{split}'; only train, validation, test or null are written", file, "Extract this shard again"),
    };

    /// <summary>
    /// The stored features as the extraction step gives them, for runs small enough to hold them: the rest of the
    /// run is then exactly <see cref="TransferLearner.Train"/>'s.
    /// </summary>
    public FeatureExtractionResult LoadStored()
    {
        var clock = Stopwatch.StartNew();
        var store = Store ?? throw new InvalidOperationException("Not a run on stored features.");
        var root = store.DatasetRoot;
        var vectors = new Dictionary<string, float[]>(PathUtil.Comparer);
        foreach (var (key, features) in store.Stream(_ => true))
        {
            Cancellation.ThrowIfCancellationRequested();
            vectors[Path.Combine(root, key.Path.Replace('/', Path.DirectorySeparatorChar))] = features;
        }
        var all = Split.Train.Concat(Split.Validation).Concat(Split.Test).ToList();
        return new FeatureExtractionResult(
            all.Select(i => ImageSource.File(i.Path, Hashes[i.Path])).ToList(),
            all.Select(i => vectors.GetValueOrDefault(i.Path)).ToArray(),
            StoredSkips(),
            0, vectors.Count, clock.Elapsed);
    }

    /// <summary>
    /// The usable images without their vectors, for runs whose features stay in the shards: the same checks as
    /// <see cref="Usable"/>; the head and the evaluation stream the vectors.
    /// </summary>
    public RunImages UsableStored(TimeSpan elapsed)
    {
        var store = Store ?? throw new InvalidOperationException("Not a run on stored features.");
        var root = store.DatasetRoot;
        var stored = store.Rows.Select(r => Path.Combine(root, r.Key.Path.Replace('/', Path.DirectorySeparatorChar))).ToHashSet(PathUtil.Comparer);
        var extraction = new FeatureExtractionResult([], [], StoredSkips(), 0, stored.Count, elapsed);
        return UsableWhere(stored.Contains, new Dictionary<string, float[]>(), extraction, store.Folder);
    }

    private List<SkippedFile> StoredSkips()
    {
        var root = Store!.DatasetRoot;
        return Store.Skipped.Where(s => s.Sha256 is not null)
            .Select(s => new SkippedFile(Path.Combine(root, s.Path.Replace('/', Path.DirectorySeparatorChar)), s.Reason))
            .OrderBy(s => s.Path, StringComparer.Ordinal).ToList();
    }
}
