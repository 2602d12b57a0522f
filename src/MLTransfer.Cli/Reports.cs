using System.Globalization;
using System.Text;
using MLTransfer.Evaluation;
using MLTransfer.Training;

namespace MLTransfer.Cli;

/// <summary>Plain-text tables for the console.</summary>
internal static class Reports
{
    public static string CountsTable(TrainingReport r)
    {
        var width = Math.Max(5, r.Counts.Max(c => c.Label.Length));
        var sb = new StringBuilder();
        sb.AppendLine($"Images per split{(r.GivenSplit ? " (split given by the data)" : "")}:");
        sb.AppendLine($"  {"class".PadRight(width)}  {"train",6} {"val",6} {"test",6}");
        foreach (var c in r.Counts)
            sb.AppendLine($"  {c.Label.PadRight(width)}  {c.Train,6} {c.Validation,6} {c.Test,6}");
        sb.Append($"  {"total".PadRight(width)}  {r.Counts.Sum(c => c.Train),6} {r.Counts.Sum(c => c.Validation),6} {r.Counts.Sum(c => c.Test),6}");
        return sb.ToString();
    }

    public static string CandidatesTable(IReadOnlyList<BackboneCandidate> candidates)
    {
        var width = Math.Max(9, candidates.Max(c => c.Backbone.Length));
        var sb = new StringBuilder();
        sb.AppendLine(FormattableString.Invariant($"Backbone candidates (scored by {candidates[0].ScoredOn}; the test split is not used):"));
        sb.AppendLine(FormattableString.Invariant($"  {"backbone".PadRight(width)}  {"accuracy",8} {"log-loss",8} {"features",8} {"MiB",6} {"ms/image",8} {"images/s",8}"));
        foreach (var c in candidates)
            sb.AppendLine(FormattableString.Invariant($"  {c.Backbone.PadRight(width)}  {c.Score,8:F4} {c.LogLoss,8:F4} {c.FeatureSize,8} {c.ModelBytes / 1048576.0,6:F1} {c.PredictMilliseconds,8:F1} {c.ImagesPerSecond,8:F0}{(c.Chosen ? "  <- chosen" : "")}"));
        return sb.ToString().TrimEnd();
    }

    /// <summary>Training accuracy beside the held-out one, so over-fitting shows.</summary>
    public static string TrainLine(TrainingReport r)
    {
        var heldOut = r.Test ?? r.Validation;
        return string.Create(CultureInfo.InvariantCulture,
            $"Training accuracy {r.Train!.Accuracy:F4} (log-loss {r.Train.LogLoss:F4}) on {r.Train.Count} images; held-out {heldOut?.Accuracy.ToString("F4", CultureInfo.InvariantCulture) ?? "—"}");
    }

    /// <summary>Temperature and calibration error before/after, the out-of-domain threshold and coverage, and a few points of the coverage/accuracy curve.</summary>
    public static string ConfidenceSummary(ConfidenceReport c)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(string.Create(inv, $"Calibration, fitted on {c.FittedOn}: temperature {c.Temperature:F3}"));
        sb.AppendLine(string.Create(inv,
            $"  expected calibration error on {c.MeasuredOn} ({c.After.Bins.Sum(b => b.Count)} images, {c.After.Bins.Count} bins): {c.Before.ExpectedCalibrationError:F4} before, {c.After.ExpectedCalibrationError:F4} after"));
        sb.AppendLine(c.OutOfDomainThreshold is { } t
            ? string.Create(inv, $"Out of domain above {t:F4} ({c.OutOfDomainMethod}; chosen to accept {100 * c.TargetCoverage:F0}% of the calibration images): accepts {100 * c.InDomainCoverage:F1}% of {c.MeasuredOn}")
            : "Out of domain: no threshold (nothing to fit it on); the score is reported but the model never abstains on it");
        sb.AppendLine($"Coverage/accuracy on {c.MeasuredOn}, abstaining below a probability (out-of-domain images withheld):");
        sb.AppendLine("  min probability  coverage  accuracy");
        foreach (var p in c.GatedCoverageCurve.Where(p => p.MinConfidence is 0 or 0.5 or 0.7 or 0.8 or 0.9 or 0.95))
            sb.AppendLine(string.Create(inv, $"  {p.MinConfidence,15:F2}  {100 * p.Coverage,7:F1}%  {(double.IsNaN(p.Accuracy) ? "—" : p.Accuracy.ToString("F4", inv)),8}"));
        return sb.ToString().TrimEnd();
    }

    public static string SkippedList(IReadOnlyList<(string Path, string Reason)> skipped)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"Skipped {skipped.Count} file(s):");
        foreach (var (path, reason) in skipped)
            sb.AppendLine($"  {path}: {reason}");
        return sb.ToString().TrimEnd();
    }
}
