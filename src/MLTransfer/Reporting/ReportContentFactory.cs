using System.Globalization;
using MLTransfer.Confidence;
using MLTransfer.Evaluation;
using MLTransfer.Export;
using MLTransfer.FineTuning;
using MLTransfer.Images;
using MLTransfer.Inference;
using MLTransfer.Training;

namespace MLTransfer.Reporting;

/// <summary>Builds report content from a training run, a fine-tuning run, or an evaluation of a saved model.</summary>
internal static class ReportContentFactory
{
    /// <summary>Occlusion maps drawn: the worst misclassified held-out images (each costs Grid² + 1 predictions).</summary>
    public const int OcclusionImages = 4;

    /// <summary>Content for a freshly trained model.</summary>
    /// <param name="model">The trained model.</param>
    /// <param name="classifier">The saved model, loaded: it computes the occlusion maps (none without it).</param>
    /// <param name="epochs">Per-epoch curves, if the head has epochs.</param>
    public static ReportContent FromTraining(TrainedModel model, ImageClassifier? classifier = null, IReadOnlyList<EpochRecord>? epochs = null)
    {
        var r = model.Report;
        var metrics = new List<KeyValuePair<string, ClassificationMetrics>>();
        if (r.Validation is not null)
            metrics.Add(new(r.ValidationIsHeldOut ? "Validation (held-out)" : "Validation", r.Validation));
        if (r.Test is not null)
            metrics.Add(new("Test", r.Test));
        return new ReportContent
        {
            Title = $"MLTransfer training report — {Path.GetFileName(model.Metadata.DataSource?.TrimEnd('/')) ?? "model"}",
            DataSource = model.Metadata.DataSource,
            ClassNames = r.ClassNames,
            Counts = r.Counts,
            Skipped = r.Skipped,
            Duplicates = r.Duplicates,
            Warnings = r.Warnings,
            Settings = Settings(model.Metadata, r),
            Metrics = metrics,
            Train = r.Train,
            Epochs = epochs ?? [],
            HeldOut = r.HeldOut,
            HeldOutName = r.Test is null ? "Validation" : "Test",
            Confidence = r.Confidence,
            Occlusions = classifier is null ? [] : Occlusions(r.HeldOut, classifier),
        };
    }

    /// <summary>
    /// Content for a fine-tuned model: the training report of the final model, with the joint epochs' curves
    /// (training images against the early-stopping set, epoch 0 being the head alone on the pretrained backbone).
    /// </summary>
    public static ReportContent FromFineTuning(FineTuningResult result, ImageClassifier? classifier = null)
    {
        var f = result.Report;
        var epochs = f.Epochs.Select(e => new EpochRecord(e.Epoch, e.TrainLoss, e.TrainAccuracy, e.SelectionLoss, e.SelectionAccuracy, double.NaN)).ToList();
        var note = string.Create(CultureInfo.InvariantCulture,
            $"Epoch 0 is the head alone on the pretrained backbone; epoch {f.BestEpoch} was kept{(f.StoppedEarly ? " (stopped early)" : "")}. " +
            $"The second curve is {f.SelectionSet} ({f.SelectionImages} images){(f.SelectionFolds >= 2 ? ", each scored out of fold and pooled over the folds" : "")}.");
        return FromTraining(result.Model, classifier, epochs) with { EpochsHeldName = "early-stopping set", EpochsNote = note };
    }

    /// <summary>Content for a saved model evaluated on a labelled folder (<paramref name="classifier"/> is that model).</summary>
    public static ReportContent FromEvaluation(ImageClassifier classifier, ModelEvaluator.Result result, string dataPath)
    {
        var metadata = classifier.Metadata;
        return new ReportContent
        {
            Title = $"MLTransfer evaluation report — {Path.GetFileName(Path.GetFullPath(dataPath).TrimEnd('/'))}",
            DataSource = Path.GetFullPath(dataPath),
            ClassNames = metadata.ClassNames,
            Skipped = result.Skipped,
            Settings = Settings(metadata, null),
            Metrics = [new("Evaluation", result.Metrics)],
            HeldOut = result.Outcomes,
            HeldOutName = "Evaluation",
            Confidence = metadata.Calibration is { } c && result.Probabilities.Count > 0 ? Measure(c, result) : null,
            Occlusions = Occlusions(result.Outcomes, classifier),
        };
    }

    /// <summary>The calibration measured on the evaluated images; "before" undoes the temperature (T, then 1/T, gives the head's own probabilities back).</summary>
    private static ConfidenceReport Measure(ConfidenceCalibration c, ModelEvaluator.Result result)
    {
        var raw = result.Probabilities.Select(p => TemperatureScaling.Apply(p, 1 / c.Temperature)).ToList();
        var distances = result.Outcomes.All(o => o.OutOfDomainScore is not null) ? result.Outcomes.Select(o => o.OutOfDomainScore!.Value).ToList() : null;
        var empty = new Reliability(0, []);
        return ConfidenceMeasurement.Measure(raw, result.Probabilities, result.Labels, distances, c.OutOfDomainThreshold, new ConfidenceReport
        {
            Before = empty,
            After = empty,
            Temperature = c.Temperature,
            FittedOn = c.FittedOn ?? "",
            OutOfDomainMethod = c.OutOfDomainMethod,
            TargetCoverage = c.TargetCoverage,
        }, "evaluated");
    }

    /// <summary>Occlusion maps of the most confidently misclassified images.</summary>
    private static List<OcclusionMap> Occlusions(IReadOnlyList<ImageOutcome> outcomes, ImageClassifier classifier)
    {
        var d = classifier.Metadata.Backbone;
        var classes = classifier.ClassNames.Select((n, i) => (n, i)).ToDictionary(t => t.n, t => t.i, StringComparer.Ordinal);
        var maps = new List<OcclusionMap>();
        foreach (var o in outcomes.Where(o => o.IsError).OrderByDescending(o => o.Confidence).ThenBy(o => o.Path, StringComparer.Ordinal).Take(OcclusionImages))
        {
            DecodedImage image;
            try
            {
                image = ImageDecoder.DecodeFile(o.Path, d.InputWidth, d.InputHeight, d.ResizeMode);
            }
            catch (ImageDecodeException)
            {
                continue;
            }
            // The classifier is thread-safe; its calls run one image each, so two at a time keep both cores busy.
            maps.Add(OcclusionMap.Compute(o.Path, image, classes[o.TrueLabel], o.TrueLabel, o.PredictedLabel,
                copies => copies.AsParallel().AsOrdered().WithDegreeOfParallelism(Environment.ProcessorCount).Select(classifier.Score).ToArray()));
        }
        return maps;
    }

    private static List<KeyValuePair<string, string>> Settings(ModelMetadata m, TrainingReport? r)
    {
        var d = m.Backbone;
        var rows = new List<KeyValuePair<string, string>>
        {
            new("backbone", $"{d.Name} ({d.Family})"),
            new("backbone SHA-256", m.BackboneSha256),
            new("why this backbone", m.BackboneReason ?? ""),
            new("input", string.Create(CultureInfo.InvariantCulture, $"{d.InputWidth}×{d.InputHeight}, {d.ResizeMode}, {d.ChannelOrder}, mean [{string.Join(", ", d.Mean)}], std [{string.Join(", ", d.Std)}]")),
            new("features", $"{m.FeatureSize} from '{d.FeatureTensor}'"),
            new("head", m.Head),
            new("seed", m.Seed.ToString(CultureInfo.InvariantCulture)),
            new("trained", m.CreatedUtc.ToString("u", CultureInfo.InvariantCulture)),
        };
        if (m.Calibration is { } c)
            rows.Add(new("calibration", string.Create(CultureInfo.InvariantCulture,
                $"temperature {c.Temperature:F3}; out-of-domain: {c.OutOfDomainMethod} (k = {c.Neighbours}, {c.ReferenceImages} training images), threshold {(c.OutOfDomainThreshold is { } t ? t.ToString("F4", CultureInfo.InvariantCulture) : "none")}; fitted on {c.FittedOn}")));
        if (r is not null)
            rows.Add(new("timing", string.Create(CultureInfo.InvariantCulture,
                $"total {r.TotalTime.TotalSeconds:F1} s; features {r.ExtractionTime.TotalSeconds:F1} s ({r.ImagesExtracted} extracted at {r.ExtractionImagesPerSecond:F0} images/s, {r.ImagesFromCache} from cache); head {r.HeadTrainingTime.TotalSeconds:F2} s")));
        return rows;
    }
}
