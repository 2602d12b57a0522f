using System.Globalization;
using MLTransfer.Evaluation;
using MLTransfer.Export;
using MLTransfer.Inference;
using MLTransfer.Training;

namespace MLTransfer.Reporting;

/// <summary>Builds report content from a training run or from an evaluation of a saved model.</summary>
internal static class ReportContentFactory
{
    /// <summary>Content for a freshly trained model.</summary>
    /// <param name="model">The trained model.</param>
    /// <param name="epochs">Per-epoch curves, if the head has epochs.</param>
    public static ReportContent FromTraining(TrainedModel model, IReadOnlyList<EpochRecord>? epochs = null)
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
            Epochs = epochs ?? [],
            HeldOut = r.HeldOut,
            HeldOutName = r.Test is null ? "Validation" : "Test",
        };
    }

    /// <summary>Content for a saved model evaluated on a labelled folder.</summary>
    public static ReportContent FromEvaluation(ModelMetadata metadata, ModelEvaluator.Result result, string dataPath) => new()
    {
        Title = $"MLTransfer evaluation report — {Path.GetFileName(Path.GetFullPath(dataPath).TrimEnd('/'))}",
        DataSource = Path.GetFullPath(dataPath),
        ClassNames = metadata.ClassNames,
        Skipped = result.Skipped,
        Settings = Settings(metadata, null),
        Metrics = [new("Evaluation", result.Metrics)],
        HeldOut = result.Outcomes,
        HeldOutName = "Evaluation",
    };

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
        if (r is not null)
            rows.Add(new("timing", string.Create(CultureInfo.InvariantCulture,
                $"total {r.TotalTime.TotalSeconds:F1} s; features {r.ExtractionTime.TotalSeconds:F1} s ({r.ImagesExtracted} extracted at {r.ExtractionImagesPerSecond:F0} images/s, {r.ImagesFromCache} from cache); head {r.HeadTrainingTime.TotalSeconds:F2} s")));
        return rows;
    }
}
