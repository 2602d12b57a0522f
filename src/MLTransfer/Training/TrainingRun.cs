using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using MLTransfer.Backbones;
using MLTransfer.Backbones.Store;
using MLTransfer.Data;
using MLTransfer.Evaluation;
using MLTransfer.Features;

namespace MLTransfer.Training;

/// <summary>
/// One training run: the steps every trainer takes the same way. <see cref="TransferLearner"/> and
/// <see cref="FineTuning.FineTuner"/> compose them and differ only in what they extract (backbone features,
/// or activations at a cut) and in their head phase, the way fastai's <c>fine_tune</c> is a phase of the
/// same <c>Learner</c>.
/// </summary>
/// <remarks>
/// Steps: <see cref="Start"/> (load and check the data, resolve the backbone before any image is read,
/// hash every image once, split), <see cref="Extract"/> (through the cache, keyed by those hashes),
/// <see cref="Usable"/> (the images that decoded, with the checks that go with them),
/// <see cref="Evaluate"/> and <see cref="Finish"/> (the report and metadata every model carries).
/// </remarks>
internal sealed partial class TrainingRun
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    private TrainingRun(string dataPath, TransferLearningOptions options, CancellationToken cancellation)
    {
        DataPath = dataPath;
        Options = options;
        Log = options.Log ?? (_ => { });
        Cancellation = cancellation;
    }

    public string DataPath { get; }
    public TransferLearningOptions Options { get; }
    public Action<string> Log { get; }
    public CancellationToken Cancellation { get; }
    public Dataset Dataset { get; private init; } = null!;
    public SplitDataset Split { get; private init; } = null!;
    public ResolvedBackbone Resolved { get; private init; } = null!;
    public PreparedBackbone Prepared { get; private init; } = null!;
    /// <summary>Content hash of every readable image, computed once and used by the split and the cache.</summary>
    public IReadOnlyDictionary<string, string> Hashes { get; private init; } = null!;
    public IReadOnlyList<string> ClassNames => Split.ClassNames;

    /// <summary>Loads and checks the data, resolves and prepares the backbone, hashes each image once, and splits.</summary>
    /// <exception cref="MLTransferException">Invalid options, bad data, or a missing or mismatched backbone.</exception>
    public static TrainingRun Start(string dataPath, TransferLearningOptions options, CancellationToken cancellation)
    {
        options.Validate();
        var log = options.Log ?? (_ => { });
        var dataset = DatasetLoader.Load(dataPath);
        foreach (var warning in dataset.Warnings)
            log($"warning: {warning}");
        if (dataset.IgnoredFileCount > 0)
            log($"ignored {dataset.IgnoredFileCount} file(s) that are not images (other extensions, hidden files, Thumbs.db, .DS_Store)");
        // Backbone problems (missing, corrupt, mismatched) are found before any dataset file is read.
        var (resolved, prepared) = BackbonePreparation.Run(options.Backbone, log, cancellation);

        var (hashes, unreadable) = ContentHasher.HashAll(dataset.Images.Select(i => i.Path).ToList(), cancellation);
        if (unreadable.Count > 0)
        {
            var gone = unreadable.Select(u => u.Path).ToHashSet(PathUtil.Comparer);
            dataset = dataset with { Images = dataset.Images.Where(i => !gone.Contains(i.Path)).ToList(), Skipped = [.. dataset.Skipped, .. unreadable] };
        }
        var split = DatasetSplitter.Split(dataset, new SplitOptions(options.ValidationFraction, options.TestFraction, options.Seed), path => hashes[path]);
        foreach (var warning in split.Warnings)
            log($"warning: {warning}");
        return new TrainingRun(dataPath, options, cancellation)
        {
            Dataset = dataset,
            Split = split,
            Resolved = resolved,
            Prepared = prepared,
            Hashes = hashes,
        };
    }

    /// <summary>
    /// Runs <paramref name="graph"/> (the prepared backbone, or its frozen part below a cut) over every image of
    /// the split, through its cache: <paramref name="cutTensor"/> null caches the backbone's features, else the
    /// activations at that tensor.
    /// </summary>
    public FeatureExtractionResult Extract(PreparedBackbone graph, string? cutTensor = null)
    {
        var images = Split.Train.Concat(Split.Validation).Concat(Split.Test).Select(i => ImageSource.File(i.Path, Hashes[i.Path])).ToList();
        FeatureExtractionResult extraction;
        var key = new FeatureCacheKey(Resolved.Sha256, graph, cutTensor is null ? null : $"cut:{cutTensor}");
        using (var session = new BackboneSession(graph, Options.Extraction.InferenceThreads))
        using (var cache = FeatureCache.OpenFor(Options.Cache ?? new(), key, Log, Cancellation))
            extraction = FeatureExtractor.Extract(images, session, cache, Options.Extraction, Cancellation);
        var what = cutTensor is null ? "images" : "cut activations";
        Log(string.Create(CultureInfo.InvariantCulture,
            $"extracted {extraction.Extracted} {what} in {extraction.Elapsed.TotalSeconds:F1} s ({extraction.ExtractedPerSecond:F0}/s), {extraction.FromCache} from cache, {extraction.Skipped.Count} skipped"));
        foreach (var s in extraction.Skipped)
            Log($"skipped: {s.Path}: {s.Reason}");
        return extraction;
    }

    /// <summary>
    /// The images that decoded: unusable files leave every split (the counts reported are those used), a class
    /// left with no training image is an error, and one left with no validation or test image is a warning.
    /// </summary>
    /// <exception cref="MLTransferException">A class has no usable training image.</exception>
    public RunImages Usable(FeatureExtractionResult extraction)
    {
        var features = extraction.ByName;
        List<LabeledImage> Keep(IEnumerable<LabeledImage> images) => images.Where(i => features.ContainsKey(i.Path)).ToList();
        var (train, validation, test) = (Keep(Split.Train), Keep(Split.Validation), Keep(Split.Test));
        var warnings = RunSummary.EmptySetWarnings(Split, validation, test);
        foreach (var warning in warnings)
            Log($"warning: {warning}");
        var missing = ClassNames.Where(c => !train.Any(i => i.Label == c)).ToList();
        if (missing.Count > 0)
            throw new MLTransferException($"No usable training images left for class(es) {string.Join(", ", missing)}", Dataset.Root,
                "Add images to those classes or remove them; see the skipped files above");
        return new RunImages(train, validation, test, ClassNames, features, extraction, warnings);
    }

    /// <summary>Metrics on validation and test, and the outcome of every held-out image.</summary>
    /// <param name="images">The usable images.</param>
    /// <param name="score">Class probabilities of a list of images.</param>
    public RunEvaluation Evaluate(RunImages images, Func<IReadOnlyList<LabeledImage>, float[][]> score)
    {
        var (validationScores, testScores) = (score(images.Validation), score(images.Test));
        ClassificationMetrics? Metrics(IReadOnlyList<LabeledImage> set, float[][] scores) =>
            set.Count == 0 ? null : MetricsCalculator.Compute(ClassNames, images.Labels(set), scores);
        var (heldOut, heldOutScores) = images.Test.Count > 0 ? (images.Test, testScores) : (images.Validation, validationScores);
        return new RunEvaluation(Metrics(images.Validation, validationScores), Metrics(images.Test, testScores),
            heldOut.Select((image, i) => RunSummary.Outcome(image, heldOutScores[i], ClassNames, images.ClassIndex)).ToList());
    }

    /// <summary>The trained model with the report and metadata every trainer writes the same way.</summary>
    /// <param name="ml">The context the model was built in.</param>
    /// <param name="model">The full chain: image → backbone → head.</param>
    /// <param name="backbone">The backbone graph the chain runs (fine-tuning changes its weights).</param>
    /// <param name="images">The usable images.</param>
    /// <param name="evaluation">Validation and test results.</param>
    /// <param name="head">Describes the head, for the metadata.</param>
    /// <param name="reason">Why this backbone, for the report and metadata.</param>
    /// <param name="headTime">Time spent fitting the head.</param>
    public TrainedModel Finish(MLContext ml, ITransformer model, PreparedBackbone backbone, RunImages images, RunEvaluation evaluation, string head, string reason, TimeSpan headTime)
    {
        var extraction = images.Extraction;
        var counts = RunSummary.Counts(ClassNames, images.Train, images.Validation, images.Test);
        var skipped = Dataset.Skipped.Concat(extraction.Skipped).ToList();
        var report = new TrainingReport
        {
            ClassNames = ClassNames,
            Counts = counts,
            GivenSplit = Split.IsGivenSplit,
            ValidationIsHeldOut = images.Test.Count == 0,
            Skipped = skipped,
            Duplicates = Split.Duplicates,
            Warnings = [.. Dataset.Warnings, .. Split.Warnings, .. images.Warnings],
            Backbone = Resolved.Description.Name,
            BackboneReason = reason,
            Validation = evaluation.Validation,
            Test = evaluation.Test,
            HeldOut = evaluation.HeldOut,
            ImagesExtracted = extraction.Extracted,
            ImagesFromCache = extraction.FromCache,
            ExtractionImagesPerSecond = extraction.ExtractedPerSecond,
            ExtractionTime = extraction.Elapsed,
            HeadTrainingTime = headTime,
            TotalTime = _clock.Elapsed,
        };
        var metadata = RunSummary.Metadata(ClassNames, backbone, Resolved, reason, head, Options.Seed, DataPath, counts, skipped.Count, evaluation.Validation, evaluation.Test);
        return new TrainedModel(ml, model, metadata, report, Inputs());
    }

    /// <summary>What the run read, so that saving can refuse to write over it.</summary>
    private IReadOnlyList<string> Inputs() =>
        Dataset.ManifestPath is { } manifest
            ? [manifest, Resolved.FilePath, .. Dataset.Images.Select(i => i.Path)]
            : [Dataset.Root, Resolved.FilePath];
}
