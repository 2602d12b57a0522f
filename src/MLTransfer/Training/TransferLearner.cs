using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using MLTransfer.Backbones;
using MLTransfer.Backbones.Store;
using MLTransfer.Data;
using MLTransfer.Evaluation;
using MLTransfer.Export;
using MLTransfer.Features;
using MLTransfer.Reporting;

namespace MLTransfer.Training;

/// <summary>
/// The whole transfer-learning job: discover and split the data, resolve and prepare the backbone,
/// extract features (cached), fit the head on the training split, score validation and test, and
/// assemble the ML.NET model that is saved.
/// </summary>
public static class TransferLearner
{
    /// <summary>Trains a classifier on the labelled images under <paramref name="dataPath"/> (folder or manifest).</summary>
    /// <exception cref="MLTransferException">Bad data, a missing or mismatched backbone, or nothing left to train on.</exception>
    public static TrainedModel Train(string dataPath, TransferLearningOptions? options = null, CancellationToken cancellation = default)
    {
        options ??= new TransferLearningOptions();
        options.Validate();
        var log = options.Log ?? (_ => { });
        var total = Stopwatch.StartNew();

        var dataset = DatasetLoader.Load(dataPath);
        foreach (var warning in dataset.Warnings)
            log($"warning: {warning}");
        if (dataset.IgnoredFileCount > 0)
            log($"ignored {dataset.IgnoredFileCount} file(s) that are not images (other extensions, hidden files, Thumbs.db, .DS_Store)");

        // Backbone problems (missing, corrupt, mismatched) are found before any dataset file is read.
        var (resolved, prepared) = BackbonePreparation.Run(options, log, cancellation);

        var split = DatasetSplitter.Split(dataset, new SplitOptions(options.ValidationFraction, options.TestFraction, options.Seed), ContentHasher.Sha256Of);
        foreach (var warning in split.Warnings)
            log($"warning: {warning}");

        var all = split.Train.Concat(split.Validation).Concat(split.Test).Select(i => i.Path).Distinct().ToList();
        FeatureExtractionResult extraction;
        using (var session = new BackboneSession(prepared, options.Extraction.InferenceThreads))
        using (var cache = options.UseFeatureCache ? OpenCache(options, resolved, prepared, log) : null)
            extraction = FeatureExtractor.Extract(all, session, cache, options.Extraction, cancellation);
        log(string.Create(CultureInfo.InvariantCulture,
            $"extracted {extraction.Extracted} images in {extraction.Elapsed.TotalSeconds:F1} s ({extraction.ExtractedPerSecond:F0} images/s), {extraction.FromCache} from cache, {extraction.Skipped.Count} skipped"));
        foreach (var s in extraction.Skipped)
            log($"skipped: {s.Path}: {s.Reason}");

        // Unusable files leave every split; the counts reported are those actually used.
        List<LabeledImage> Usable(IEnumerable<LabeledImage> images) => images.Where(i => extraction.Features.ContainsKey(i.Path)).ToList();
        var (train, validation, test) = (Usable(split.Train), Usable(split.Validation), Usable(split.Test));
        var classIndex = split.ClassNames.Select((c, i) => (c, i)).ToDictionary(t => t.c, t => t.i, StringComparer.Ordinal);
        var missing = split.ClassNames.Where(c => !train.Any(i => i.Label == c)).ToList();
        if (missing.Count > 0)
            throw new MLTransferException($"No usable training images left for class(es) {string.Join(", ", missing)}", dataset.Root,
                "Add images to those classes or remove them; see the skipped files above");

        var ml = ProcessTemp.NewMLContext(options.Seed);
        var headClock = Stopwatch.StartNew();
        var head = HeadTrainer.Fit(ml, split.ClassNames, train.Select(i => extraction.Features[i.Path]).ToList(), train.Select(i => classIndex[i.Label]).ToList(), options.Head,
            options.L2Regularization, options.L1Regularization);
        headClock.Stop();
        log(string.Create(CultureInfo.InvariantCulture, $"head: {options.Head} fitted on {train.Count} images in {headClock.Elapsed.TotalSeconds:F2} s"));

        float[][] Score(List<LabeledImage> images) => HeadTrainer.Score(ml, head, images.Select(i => extraction.Features[i.Path]).ToList());
        ClassificationMetrics? Evaluate(List<LabeledImage> images, float[][] scores) => images.Count == 0 ? null :
            MetricsCalculator.Compute(split.ClassNames, images.Select(i => classIndex[i.Label]).ToList(), scores);
        var (validationScores, testScores) = (Score(validation), Score(test));
        var validationMetrics = Evaluate(validation, validationScores);
        var testMetrics = Evaluate(test, testScores);
        var (heldOut, heldOutScores) = test.Count > 0 ? (test, testScores) : (validation, validationScores);

        var featurizer = ModelPipeline.FitFeaturizer(ml, prepared);
        var model = featurizer.Append(head);

        var counts = RunSummary.Counts(split.ClassNames, train, validation, test);
        var skipped = dataset.Skipped.Concat(extraction.Skipped).ToList();
        var report = new TrainingReport
        {
            ClassNames = split.ClassNames,
            Counts = counts,
            GivenSplit = split.IsGivenSplit,
            ValidationIsHeldOut = test.Count == 0,
            Skipped = skipped,
            Duplicates = split.Duplicates,
            Warnings = dataset.Warnings.Concat(split.Warnings).ToList(),
            Backbone = resolved.Description.Name,
            BackboneReason = resolved.Reason,
            Validation = validationMetrics,
            HeldOut = heldOut.Select((image, i) => RunSummary.Outcome(image, heldOutScores[i], split.ClassNames, classIndex)).ToList(),
            Test = testMetrics,
            ImagesExtracted = extraction.Extracted,
            ImagesFromCache = extraction.FromCache,
            ExtractionImagesPerSecond = extraction.ExtractedPerSecond,
            ExtractionTime = extraction.Elapsed,
            HeadTrainingTime = headClock.Elapsed,
            TotalTime = total.Elapsed,
        };
        var metadata = RunSummary.Metadata(split.ClassNames, prepared, resolved, resolved.Reason, options.Head.ToString(), options.Seed, dataPath,
            counts, skipped.Count, validationMetrics, testMetrics);
        return new TrainedModel(ml, model, metadata, report with { TotalTime = total.Elapsed }, RunInputs(dataset, resolved));
    }

    /// <summary>What the run read, so that saving can refuse to write over it.</summary>
    internal static IReadOnlyList<string> RunInputs(Dataset dataset, ResolvedBackbone resolved) =>
        dataset.ManifestPath is { } manifest
            ? [manifest, resolved.FilePath, .. dataset.Images.Select(i => i.Path)]
            : [dataset.Root, resolved.FilePath];

    private static FeatureCache OpenCache(TransferLearningOptions options, ResolvedBackbone resolved, PreparedBackbone prepared, Action<string> log)
    {
        var cache = ImageClassificationFeatures.OpenCache(options.ResolvedWorkspace, resolved.Sha256, prepared);
        log($"feature cache: {cache.FilePath} ({cache.Count} entries{(cache.DroppedTornRecords > 0 ? $", dropped {cache.DroppedTornRecords} bytes of an interrupted write" : "")})");
        return cache;
    }
}
