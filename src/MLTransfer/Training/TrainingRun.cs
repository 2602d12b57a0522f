using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using MLTransfer.Backbones;
using MLTransfer.Backbones.Store;
using MLTransfer.Confidence;
using MLTransfer.Data;
using MLTransfer.Evaluation;
using MLTransfer.Features;
using MLTransfer.Images;

namespace MLTransfer.Training;

/// <summary>
/// One training run: the steps every trainer takes the same way. <see cref="TransferLearner"/> and
/// <see cref="FineTuning.FineTuner"/> compose them and differ only in what they extract (backbone features,
/// or activations at a cut) and in their head phase, the way fastai's <c>fine_tune</c> is a phase of the
/// same <c>Learner</c>.
/// </summary>
/// <remarks>
/// Steps: <see cref="Start"/> (load and check the data, resolve the backbone before any image is read,
/// hash every image once, split), <see cref="Extract()"/> (through the cache, keyed by those hashes),
/// <see cref="Usable"/> (the images that decoded, with the checks that go with them),
/// <see cref="Evaluate"/> and <see cref="Finish"/> (the report and metadata every model carries).
/// </remarks>
internal sealed partial class TrainingRun
{
    private readonly Stopwatch _clock;

    private TrainingRun(string dataPath, TransferLearningOptions options, CancellationToken cancellation, Stopwatch? clock = null)
    {
        _clock = clock ?? Stopwatch.StartNew();
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
    /// <summary>The backbone the run extracts with (for a selection, the candidate being considered or chosen).</summary>
    public RunBackbone Backbone { get; private init; } = null!;
    /// <summary>The candidates of a backbone selection (<c>auto</c>, or a list), or null when one backbone was named.</summary>
    public IReadOnlyList<RunBackbone>? Candidates { get; private init; }
    public ResolvedBackbone Resolved => Backbone.Resolved;
    public PreparedBackbone Prepared => Backbone.Graph;
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
        var (backbone, candidates) = ResolveBackbones(options.Backbone ?? new BackboneSource(), log, cancellation);

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
            Backbone = backbone,
            Candidates = candidates,
            Hashes = hashes,
        };
    }

    /// <summary>The same run extracting with <paramref name="backbone"/> (the winner of a selection).</summary>
    public TrainingRun With(RunBackbone backbone) => new(DataPath, Options, Cancellation, _clock)
    {
        Dataset = Dataset,
        Split = Split,
        Backbone = backbone,
        Candidates = Candidates,
        Hashes = Hashes,
    };

    private static (RunBackbone Backbone, IReadOnlyList<RunBackbone>? Candidates) ResolveBackbones(BackboneSource source, Action<string> log, CancellationToken cancellation)
    {
        var prepared = new Dictionary<string, (ResolvedBackbone, PreparedBackbone)>(StringComparer.Ordinal);
        if (!BackboneSpec.IsSelection(source.Name))
        {
            // No name: the default choice, resolved (and explained) by the store.
            var spec = source.Name is null ? null : BackboneSpec.Parse(source.Name);
            if (spec is null)
            {
                var single = BackbonePreparation.Run(source, log, cancellation);
                spec = new BackboneSpec([single.Resolved.Description.Name], false);
                prepared[spec.Members[0]] = single;
            }
            return (RunBackbone.For(spec, source, log, cancellation, prepared), null);
        }
        var specs = BackboneSpec.Candidates(source.Name!) ?? BackboneSelection.AutoCandidates(source, log);
        var candidates = new List<RunBackbone>();
        foreach (var spec in specs)
        {
            try
            {
                candidates.Add(RunBackbone.For(spec, source, log, cancellation, prepared));
            }
            catch (MLTransferException e) when (specs.Count > 1 && spec.IsComposite)
            {
                // A combination that cannot be built (sizes differ, a pinned batch) is not a reason to stop choosing.
                log($"backbone candidate {spec} left out: {e.What}");
            }
        }
        if (candidates.Count == 0)
            throw new MLTransferException("No backbone candidate could be prepared", source.Name, "Name backbones that are available (see 'mltransfer backbones list')");
        return (candidates[0], candidates);
    }

    /// <summary>
    /// The run's backbone features of every image of the split: a single backbone's through its cache; a
    /// composite's from its members' cached features (and their mirror images' for flip averaging), combined
    /// as the composite graph combines them.
    /// </summary>
    public FeatureExtractionResult Extract() => Extract(Backbone);

    /// <summary>The features of <paramref name="backbone"/> (see <see cref="Extract()"/>).</summary>
    public FeatureExtractionResult Extract(RunBackbone backbone)
    {
        if (!backbone.Spec.IsComposite)
            return Extract(backbone.Graph, backbone.Resolved.Sha256);
        var plain = backbone.Members.Select(m => Extract(m.Prepared, m.Resolved.Sha256)).ToList();
        var mirrored = backbone.Spec.FlipAveraged ? backbone.Members.Select(m => Extract(m.Prepared, m.Resolved.Sha256, mirror: true)).ToList() : null;
        var all = plain.Concat(mirrored ?? []).ToList();
        var sources = plain[0].Sources;
        var features = new float[]?[sources.Count];
        for (var i = 0; i < sources.Count; i++)
            if (all.All(r => r.Features[i] is not null))
                features[i] = CompositeGraph.Combine(backbone.Spec, plain.Select(r => r.Features[i]!).ToList(), mirrored?.Select(r => r.Features[i]!).ToList());
        var skipped = all.SelectMany(r => r.Skipped).DistinctBy(s => s.Path).OrderBy(s => s.Path, StringComparer.Ordinal).ToList();
        return new FeatureExtractionResult(sources, features, skipped, all.Sum(r => r.Extracted), all.Sum(r => r.FromCache),
            TimeSpan.FromTicks(all.Sum(r => r.Elapsed.Ticks)));
    }

    /// <summary>
    /// Runs <paramref name="graph"/> (a prepared backbone, or its frozen part below a cut) over every image of the
    /// split, through its cache: <paramref name="cutTensor"/> null caches the backbone's features, else the
    /// activations at that tensor; <paramref name="mirror"/> extracts the mirror images (flip averaging).
    /// </summary>
    public FeatureExtractionResult Extract(PreparedBackbone graph, string backboneSha256, string? cutTensor = null, bool mirror = false)
    {
        var images = Split.Train.Concat(Split.Validation).Concat(Split.Test).Select(i => ImageSource.File(i.Path, Hashes[i.Path])).ToList();
        FeatureExtractionResult extraction;
        var view = mirror ? ImageView.Mirror : null;
        var key = new FeatureCacheKey(backboneSha256, graph, cutTensor is null ? null : $"cut:{cutTensor}", mirror ? ImageView.MirrorKey : null);
        using (var session = new BackboneSession(graph, Options.Extraction.InferenceThreads))
        using (var cache = FeatureCache.OpenFor(Options.Cache ?? new(), key, Log, Cancellation))
            extraction = FeatureExtractor.Extract(images, session, cache, Options.Extraction, Cancellation,
                view is null ? null : FeatureExtractor.ViewPixels(graph, Options.Extraction.Decode, view));
        var what = (cutTensor is null ? "images" : "cut activations") + (mirror ? " (mirrored)" : "") + $" with {graph.Description.Name}";
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
    public RunImages Usable(FeatureExtractionResult extraction) =>
        UsableWhere(extraction.ByName.ContainsKey, extraction.ByName, extraction, Dataset.Root);

    /// <summary>The split's images that <paramref name="usable"/> keeps; every class must keep a training image.</summary>
    private RunImages UsableWhere(Func<string, bool> usable, IReadOnlyDictionary<string, float[]> features, FeatureExtractionResult extraction, string where)
    {
        List<LabeledImage> Keep(IEnumerable<LabeledImage> images) => images.Where(i => usable(i.Path)).ToList();
        var (train, validation, test) = (Keep(Split.Train), Keep(Split.Validation), Keep(Split.Test));
        var warnings = RunSummary.EmptySetWarnings(Split, validation, test);
        foreach (var warning in warnings)
            Log($"warning: {warning}");
        var missing = ClassNames.Where(c => !train.Any(i => i.Label == c)).ToList();
        if (missing.Count > 0)
            throw new MLTransferException($"No usable training images left for class(es) {string.Join(", ", missing)}", where,
                "Add images to those classes or remove them; see the skipped files above");
        return new RunImages(train, validation, test, ClassNames, features, extraction, warnings);
    }

    /// <summary>
    /// Metrics on train, validation and test, and the outcome of every held-out image; with a calibration, the
    /// probabilities are the calibrated ones (as the saved model gives them), each held-out outcome carries its
    /// out-of-domain score, and the calibration is measured on the held-out set.
    /// </summary>
    /// <param name="images">The usable images.</param>
    /// <param name="score">The head's class probabilities of a list of images (uncalibrated).</param>
    /// <param name="calibration">The model's calibration, or null for the head's own probabilities.</param>
    /// <param name="features">The head's input features of a list of images (needed with a calibration).</param>
    public RunEvaluation Evaluate(RunImages images, Func<IReadOnlyList<LabeledImage>, float[][]> score,
        ConfidenceCalibration? calibration = null, Func<IReadOnlyList<LabeledImage>, IReadOnlyList<float[]>>? features = null)
    {
        var temperature = calibration?.Temperature ?? 1;
        float[][] Calibrated(float[][] raw) => temperature == 1 ? raw : raw.Select(p => TemperatureScaling.Apply(p, temperature)).ToArray();
        var (validationRaw, testRaw) = (score(images.Validation), score(images.Test));
        var (validationScores, testScores) = (Calibrated(validationRaw), Calibrated(testRaw));
        ClassificationMetrics? Metrics(IReadOnlyList<LabeledImage> set, float[][] scores) =>
            set.Count == 0 ? null : MetricsCalculator.Compute(ClassNames, images.Labels(set), scores);
        var (heldOut, heldOutRaw, heldOutScores) = images.Test.Count > 0 ? (images.Test, testRaw, testScores) : (images.Validation, validationRaw, validationScores);
        var distances = calibration?.Reference is { } reference && features is not null ? features(heldOut).Select(f => reference.Score(f)).ToList() : null;
        var outcomes = heldOut.Select((image, i) => RunSummary.Outcome(image, heldOutScores[i], ClassNames, images.ClassIndex) with { OutOfDomainScore = distances?[i] }).ToList();
        return new RunEvaluation(Metrics(images.Validation, validationScores), Metrics(images.Test, testScores), outcomes)
        {
            Train = Metrics(images.Train, Calibrated(score(images.Train))),
            Confidence = calibration is not null && distances is not null ? RunCalibration.Measure(calibration, images, heldOutRaw, heldOutScores, distances) : null,
        };
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
    /// <param name="calibration">The probability temperature and out-of-domain statistics saved with the model, or null.</param>
    public TrainedModel Finish(MLContext ml, ITransformer model, PreparedBackbone backbone, RunImages images, RunEvaluation evaluation, string head, string reason, TimeSpan headTime,
        ConfidenceCalibration? calibration = null)
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
            Train = evaluation.Train,
            Validation = evaluation.Validation,
            Test = evaluation.Test,
            HeldOut = evaluation.HeldOut,
            Confidence = evaluation.Confidence,
            ImagesExtracted = extraction.Extracted,
            ImagesFromCache = extraction.FromCache,
            ExtractionImagesPerSecond = extraction.ExtractedPerSecond,
            ExtractionTime = extraction.Elapsed,
            HeadTrainingTime = headTime,
            TotalTime = _clock.Elapsed,
        };
        var metadata = RunSummary.Metadata(ClassNames, backbone, Resolved, reason, head, Options.Seed, DataPath, counts, skipped.Count, evaluation) with { Calibration = calibration };
        if (calibration is not null)
            model = Export.ModelPipeline.WithTemperature(ml, model, backbone, calibration.Temperature);
        return new TrainedModel(ml, model, metadata, report, Inputs());
    }

    /// <summary>What the run read, so that saving can refuse to write over it.</summary>
    private IReadOnlyList<string> Inputs() =>
        Dataset.ManifestPath is { } manifest
            ? [manifest, .. Backbone.Files, .. Dataset.Images.Select(i => i.Path)]
            : [Dataset.Root, .. Backbone.Files];
}
