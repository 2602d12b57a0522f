using System.Diagnostics;
using MLTransfer.Data;
using MLTransfer.Evaluation;
using MLTransfer.Images;
using MLTransfer.Inference;
using MLTransfer.Training;

namespace MLTransfer.Cli.Benchmarks;

/// <summary>One trained model of the out-of-domain benchmark: its calibration and what it does on its own held-out set.</summary>
/// <param name="Dataset">The training set's folder name.</param>
/// <param name="HeldOut">Which split the in-domain figures come from (test, or validation when the data gives no test split).</param>
/// <param name="HeldOutImages">Images in it.</param>
/// <param name="Accuracy">Held-out accuracy.</param>
/// <param name="Temperature">The fitted temperature.</param>
/// <param name="FittedOn">What the temperature and threshold were fitted on.</param>
/// <param name="EceBefore">Held-out expected calibration error of the head's own probabilities.</param>
/// <param name="EceAfter">The same after temperature scaling.</param>
/// <param name="Threshold">The out-of-domain threshold, or null.</param>
/// <param name="InDomainAccepted">Share of held-out images the threshold accepts.</param>
/// <param name="CoverageCurve">Held-out coverage/accuracy, abstaining below each probability and on out-of-domain images.</param>
/// <param name="Seconds">Wall time of training and predicting.</param>
internal sealed record OodModelRow(string Dataset, string HeldOut, int HeldOutImages, double Accuracy, double Temperature, string FittedOn, double EceBefore, double EceAfter,
    double? Threshold, double InDomainAccepted, IReadOnlyList<CoveragePoint> CoverageCurve, double Seconds);

/// <summary>One train-set/foreign-set pair.</summary>
/// <param name="Train">The training set.</param>
/// <param name="Foreign">The set whose images are fed as out of domain.</param>
/// <param name="ForeignImages">How many were fed.</param>
/// <param name="Auroc">AUROC of the out-of-domain score separating foreign images from held-out in-domain ones (1 = perfect).</param>
/// <param name="ProbabilityAuroc">The same for 1 − top probability, the baseline the score is measured against.</param>
/// <param name="ForeignAccepted">Share of foreign images the out-of-domain threshold lets through.</param>
/// <param name="ForeignAnsweredAbove">Share of foreign images answered with a top probability of at least 0.5 when only the probability is checked.</param>
/// <param name="MixedCurve">
/// Held-out and foreign images together: coverage and accuracy when abstaining below each probability and on
/// out-of-domain images, an answered foreign image counting as wrong.
/// </param>
internal sealed record OodPairRow(string Train, string Foreign, int ForeignImages, double Auroc, double ProbabilityAuroc, double ForeignAccepted, double ForeignAnsweredAbove,
    IReadOnlyList<CoveragePoint> MixedCurve);

/// <summary>Results of <see cref="OutOfDomainBenchmark.Run"/>.</summary>
internal sealed record OodBenchmarkReport(string Backbone, IReadOnlyList<OodModelRow> Models, IReadOnlyList<OodPairRow> Pairs);

/// <summary>
/// How well models know when not to answer, measured on public datasets: train on each set as <c>mltransfer
/// train</c> does, save and reload the model, predict its held-out images and every image of the other sets
/// through <see cref="ImageClassifier"/> (the path apps use), and report the out-of-domain AUROC, the share of
/// foreign images let through, calibration before/after, and coverage/accuracy curves. Nothing is fitted on
/// the held-out or foreign images.
/// </summary>
internal static class OutOfDomainBenchmark
{
    /// <summary>Runs the benchmark.</summary>
    /// <param name="datasets">Training sets (each also serves as foreign set for the others).</param>
    /// <param name="foreignOnly">Extra folders fed only as foreign images (e.g. clip-art): every image file under them.</param>
    /// <param name="template">Training options (backbone, cache, seed).</param>
    /// <param name="foreignLimit">At most this many images of each foreign set (evenly spread), or 0 for all.</param>
    /// <param name="log">Progress lines.</param>
    /// <param name="cancellation">Stops between images.</param>
    public static OodBenchmarkReport Run(IReadOnlyList<string> datasets, IReadOnlyList<string> foreignOnly, TransferLearningOptions template, int foreignLimit,
        Action<string> log, CancellationToken cancellation)
    {
        // A foreign-only folder needs no classes: every image file under it is fed.
        var extensions = new DatasetLoadOptions().Extensions.Select(e => e.StartsWith('.') ? e : "." + e).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var foreignImages = datasets.ToDictionary(d => d, d => Spread(DatasetLoader.Load(d).Images.Select(i => i.Path).ToList(), foreignLimit));
        foreach (var folder in foreignOnly)
            foreignImages[folder] = Spread(Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Where(f => extensions.Contains(Path.GetExtension(f))).ToList(), foreignLimit);
        var models = new List<OodModelRow>();
        var pairs = new List<OodPairRow>();
        var backbone = "";
        var temp = Directory.CreateTempSubdirectory("mltransfer-bench-ood-").FullName;
        try
        {
            foreach (var dataset in datasets)
            {
                cancellation.ThrowIfCancellationRequested();
                var clock = Stopwatch.StartNew();
                using var model = TransferLearner.Train(dataset, template, cancellation);
                backbone = model.Report.Backbone;
                var zip = Path.Combine(temp, Name(dataset) + ".zip");
                model.Save(zip);
                using var classifier = ImageClassifier.Load(zip);
                var r = model.Report;
                var c = r.Confidence ?? throw new MLTransferException($"Training on {Name(dataset)} gave no held-out set to measure on", dataset,
                    "Give the dataset a validation or test split (--validation-fraction/--test-fraction)");
                var heldOutPaths = r.HeldOut.Select(o => o.Path).ToList();
                var labels = r.HeldOut.Select(o => o.TrueLabel).ToList();
                var inDomain = Predict(classifier, heldOutPaths, cancellation);
                var correct = inDomain.Select((p, i) => p is not null && p.Label == labels[i]).ToList();
                var held = inDomain.Where(p => p is not null).Select(p => p!).ToList();
                var inScores = held.Select(p => (double)p.OutOfDomainScore!.Value).ToList();
                var inUnsure = held.Select(p => 1.0 - p.Probability).ToList();
                models.Add(new OodModelRow(Name(dataset), c.MeasuredOn, held.Count, r.HeldOut.Count(o => !o.IsError) / (double)r.HeldOut.Count, c.Temperature, c.FittedOn,
                    c.Before.ExpectedCalibrationError, c.After.ExpectedCalibrationError, c.OutOfDomainThreshold, held.Count(p => p.Abstention != AbstentionReason.OutOfDomain) / (double)held.Count,
                    c.GatedCoverageCurve, 0));
                foreach (var foreign in datasets.Where(d => d != dataset).Concat(foreignOnly))
                {
                    var outside = Predict(classifier, foreignImages[foreign], cancellation).Where(p => p is not null).Select(p => p!).ToList();
                    if (outside.Count == 0)
                        continue;
                    var auroc = Auroc.Compute(inScores, outside.Select(p => (double)p.OutOfDomainScore!.Value).ToList());
                    var probabilityAuroc = Auroc.Compute(inUnsure, outside.Select(p => 1.0 - p.Probability).ToList());
                    var accepted = outside.Count(p => p.Abstention != AbstentionReason.OutOfDomain) / (double)outside.Count;
                    var answered = outside.Count(p => p.Probability >= 0.5) / (double)outside.Count;
                    // The mixed stream: in-domain images answered right count as right, every answered foreign image as wrong.
                    var confidence = held.Concat(outside).Select(p => (double)p.Probability).ToList();
                    var right = correct.Where((_, i) => inDomain[i] is not null).Concat(outside.Select(_ => false)).ToList();
                    var admitted = held.Concat(outside).Select(p => p.Abstention != AbstentionReason.OutOfDomain).ToList();
                    pairs.Add(new OodPairRow(Name(dataset), Name(foreign), outside.Count, auroc, probabilityAuroc, accepted, answered,
                        SelectiveCurve.Compute(confidence, right, admitted)));
                    log(FormattableString.Invariant($"{Name(dataset)} -> {Name(foreign)}: AUROC {auroc:F3} (1 - probability: {probabilityAuroc:F3}), {100 * accepted:F1}% of {outside.Count} foreign images let through"));
                }
                models[^1] = models[^1] with { Seconds = clock.Elapsed.TotalSeconds };
            }
        }
        finally
        {
            try { Directory.Delete(temp, true); } catch (IOException) { }
        }
        return new OodBenchmarkReport(backbone, models, pairs);
    }

    private static string Name(string dataset) => Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(dataset)));

    /// <summary>At most <paramref name="limit"/> paths, evenly spread over the sorted list (all when 0).</summary>
    private static List<string> Spread(List<string> paths, int limit)
    {
        paths.Sort(StringComparer.Ordinal);
        if (limit <= 0 || paths.Count <= limit)
            return paths;
        return Enumerable.Range(0, limit).Select(i => paths[(int)((long)i * paths.Count / limit)]).ToList();
    }

    /// <summary>Predictions of <paramref name="paths"/> (null for a file that does not decode), two at a time.</summary>
    private static ImagePrediction?[] Predict(ImageClassifier classifier, IReadOnlyList<string> paths, CancellationToken cancellation)
    {
        var result = new ImagePrediction?[paths.Count];
        Parallel.For(0, paths.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = cancellation }, i =>
        {
            try
            {
                result[i] = classifier.Predict(paths[i], topK: 1);
            }
            catch (ImageDecodeException)
            {
                result[i] = null;
            }
        });
        return result;
    }

    /// <summary>The report as text: one row per model, one per pair, and the held-out coverage/accuracy at a few thresholds.</summary>
    public static string Format(OodBenchmarkReport r)
    {
        static string F(double v, string format = "F3") => double.IsNaN(v) ? "—" : v.ToString(format, System.Globalization.CultureInfo.InvariantCulture);
        var lines = new List<string>
        {
            $"Backbone {r.Backbone}",
            "",
            "| train set | held-out | accuracy | temperature | ECE before → after | OOD threshold | held-out accepted | fitted on |",
            "|---|---|---|---|---|---|---|---|",
        };
        foreach (var m in r.Models)
            lines.Add($"| {m.Dataset} | {m.HeldOut} ({m.HeldOutImages}) | {F(m.Accuracy)} | {F(m.Temperature)} | {F(m.EceBefore, "F4")} → {F(m.EceAfter, "F4")} | {(m.Threshold is { } t ? F(t, "F4") : "none")} | {F(100 * m.InDomainAccepted, "F1")}% | {m.FittedOn} |");
        lines.AddRange(["", "| train set → foreign set | foreign images | AUROC (OOD score) | AUROC (1 − probability) | foreign let through | foreign with p ≥ 0.5 (no OOD check) |", "|---|---|---|---|---|---|"]);
        foreach (var p in r.Pairs)
            lines.Add($"| {p.Train} → {p.Foreign} | {p.ForeignImages} | {F(p.Auroc)} | {F(p.ProbabilityAuroc)} | {F(100 * p.ForeignAccepted, "F1")}% | {F(100 * p.ForeignAnsweredAbove, "F1")}% |");
        var thresholds = new[] { 0.0, 0.5, 0.7, 0.9 };
        lines.AddRange(["", "Held-out coverage / accuracy, abstaining below a probability and on out-of-domain images:", "",
            "| train set | " + string.Join(" | ", thresholds.Select(t => $"p ≥ {F(t, "F1")}")) + " |", "|---|" + string.Concat(thresholds.Select(_ => "---|"))]);
        foreach (var m in r.Models)
            lines.Add($"| {m.Dataset} | " + string.Join(" | ", thresholds.Select(t => m.CoverageCurve.First(c => Math.Abs(c.MinConfidence - t) < 1e-9)).Select(c => $"{F(100 * c.Coverage, "F1")}% / {F(c.Accuracy)}")) + " |");
        return string.Join(Environment.NewLine, lines);
    }
}
