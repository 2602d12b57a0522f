using System.Text;
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

    public static string SkippedList(IReadOnlyList<(string Path, string Reason)> skipped)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"Skipped {skipped.Count} file(s):");
        foreach (var (path, reason) in skipped)
            sb.AppendLine($"  {path}: {reason}");
        return sb.ToString().TrimEnd();
    }
}
