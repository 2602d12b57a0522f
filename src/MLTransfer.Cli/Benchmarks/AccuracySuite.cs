using System.Diagnostics;
using MLTransfer.Data;
using MLTransfer.Evaluation;
using MLTransfer.Training;

namespace MLTransfer.Cli.Benchmarks;

/// <summary>One dataset × backbone choice of the accuracy suite, over its seeds.</summary>
/// <param name="Dataset">Dataset folder name.</param>
/// <param name="Backbone">The backbone choice (a name, a combination, <c>auto</c>).</param>
/// <param name="Seeds">Seeds run (one for a dataset that gives its split: the split and the L-BFGS head do not depend on it).</param>
/// <param name="Validation">Validation accuracy per seed (what defaults may be chosen on).</param>
/// <param name="HeldOut">Held-out accuracy per seed: test, or validation when the data gives no test split.</param>
/// <param name="HeldOutIsValidation">True when the held-out set is the validation split.</param>
/// <param name="Chosen">For a selection, the backbone chosen per seed.</param>
/// <param name="MacroRecall">Held-out macro accuracy (mean per-class recall) per seed.</param>
/// <param name="Seconds">Wall time per seed (features cached after the first seed).</param>
internal sealed record SuiteRow(string Dataset, string Backbone, IReadOnlyList<int> Seeds, IReadOnlyList<double> Validation, IReadOnlyList<double> HeldOut,
    bool HeldOutIsValidation, IReadOnlyList<string> Chosen, IReadOnlyList<double> MacroRecall, IReadOnlyList<double> Seconds)
{
    public MeanStd ValidationSummary => MetricsCalculator.MeanAndStd(Validation);
    public MeanStd HeldOutSummary => MetricsCalculator.MeanAndStd(HeldOut);
    public MeanStd MacroRecallSummary => MetricsCalculator.MeanAndStd(MacroRecall);
}

/// <summary>
/// The table defaults are chosen from: every dataset of a folder (the public sets in <c>../shared/datasets</c>)
/// × every backbone choice × several seeds, trained as <c>mltransfer train</c> would, reporting validation and
/// held-out accuracy with mean and standard deviation, and wall time. Choose on the validation columns only.
/// </summary>
internal static class AccuracySuite
{
    public static IReadOnlyList<SuiteRow> Run(IReadOnlyList<string> datasets, IReadOnlyList<string> backbones, IReadOnlyList<int> seeds, TransferLearningOptions template,
        Action<string> log, CancellationToken cancellation)
    {
        var rows = new List<SuiteRow>();
        foreach (var dataset in datasets)
        {
            var given = DatasetLoader.Load(dataset).HasGivenSplit;
            foreach (var backbone in backbones)
            {
                var runSeeds = given ? seeds.Take(1).ToList() : seeds.ToList();
                var (validation, heldOut, chosen, macro, seconds) = (new List<double>(), new List<double>(), new List<string>(), new List<double>(), new List<double>());
                var heldOutIsValidation = false;
                foreach (var seed in runSeeds)
                {
                    cancellation.ThrowIfCancellationRequested();
                    var clock = Stopwatch.StartNew();
                    using var model = TransferLearner.Train(dataset, template with { Seed = seed, Backbone = template.Backbone with { Name = backbone } }, cancellation);
                    var r = model.Report;
                    var held = r.Test ?? r.Validation!;
                    heldOutIsValidation = r.Test is null;
                    validation.Add(r.Validation?.Accuracy ?? double.NaN);
                    heldOut.Add(held.Accuracy);
                    macro.Add(held.MacroAccuracy);
                    chosen.Add(r.BackboneCandidates.FirstOrDefault(c => c.Chosen)?.Backbone ?? r.Backbone);
                    seconds.Add(clock.Elapsed.TotalSeconds);
                    log(FormattableString.Invariant($"{Path.GetFileName(dataset)} {backbone} seed {seed}: validation {validation[^1]:F4}, held-out {held.Accuracy:F4} (macro {held.MacroAccuracy:F4}), {chosen[^1]}, {seconds[^1]:F1} s"));
                }
                rows.Add(new SuiteRow(Path.GetFileName(Path.TrimEndingDirectorySeparator(dataset)), backbone, runSeeds, validation, heldOut, heldOutIsValidation, chosen, macro, seconds));
            }
        }
        return rows;
    }

    public static string Format(IReadOnlyList<SuiteRow> rows)
    {
        var lines = new List<string>
        {
            "| dataset | backbone | seeds | validation acc (mean ± std) | held-out acc (mean ± std) | held-out macro recall | seconds/seed | chosen (selections) |",
            "|---|---|---|---|---|---|---|---|",
        };
        foreach (var r in rows)
        {
            var v = r.ValidationSummary;
            var h = r.HeldOutSummary;
            var m = r.MacroRecallSummary;
            var chosen = r.Backbone.Contains(',') || r.Backbone.Equals("auto", StringComparison.OrdinalIgnoreCase) ? string.Join(" / ", r.Chosen) : "";
            lines.Add(FormattableString.Invariant(
                $"| {r.Dataset} | {r.Backbone} | {string.Join(",", r.Seeds)} | {(double.IsNaN(v.Mean) ? "—" : $"{v.Mean:F3} ± {v.Std:F3}")} | {h.Mean:F3} ± {h.Std:F3}{(r.HeldOutIsValidation ? " (val)" : "")} | {m.Mean:F3} | {r.Seconds.Average():F1} | {chosen} |"));
        }
        return string.Join(Environment.NewLine, lines);
    }
}
