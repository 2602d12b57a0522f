using System.CommandLine;
using MLTransfer.Evaluation;
using MLTransfer.Export;
using MLTransfer.Features;
using MLTransfer.Inference;
using MLTransfer.Reporting;
using MLTransfer.Training;

namespace MLTransfer.Cli;

/// <summary>
/// The flags every training command shares (data, output, split, cache, output mode) and the steps they
/// share around the library call: building the options, progress and log, and writing the model and metrics.
/// </summary>
internal sealed class RunOptions(string outputSuffix, string workspaceContent)
{
    public Option<string> Data { get; } = new("--data") { Description = "Dataset: a folder with one sub-folder per class (or train/ val/ [test/] folders), or a CSV/TSV manifest (path,label)", Required = true };
    public Option<string?> Output { get; } = new Option<string?>("--output", "-o") { Description = $"Model zip to write [default: models/<data folder name>{outputSuffix}.zip]" }.NotEmpty();
    public Option<bool> Force { get; } = new("--force") { Description = "Replace an existing output file even if it is not an MLTransfer model (outputs never replace the run's inputs)" };
    public Option<int> Seed { get; } = new Option<int>("--seed") { Description = "Seed of the split and the trainer", DefaultValueFactory = _ => 42 }.Range(int.MinValue, int.MaxValue);
    public Option<double> TestFraction { get; } = new Option<double>("--test-fraction") { Description = "Fraction of each class held out for testing", DefaultValueFactory = _ => 0.15 }.Range(0, 1);
    public Option<double> ValidationFraction { get; } = new Option<double>("--validation-fraction") { Description = "Fraction of each class held out for validation", DefaultValueFactory = _ => 0.15 }.Range(0, 1);
    public Option<bool> BalanceClasses { get; } = new("--balance-classes") { Description = "Weight training images by the inverse frequency of their class (for imbalanced data)" };
    public Option<string?> Workspace { get; } = new("--workspace") { Description = $"Folder for the {workspaceContent} cache [default: ~/.cache/mltransfer/workspace]" };
    public Option<bool> NoCache { get; } = new("--no-cache") { Description = $"Neither read nor write cached {workspaceContent}" };
    // A day is far beyond any extraction another run could be doing; the cap keeps the value a valid TimeSpan.
    public Option<double> CacheWait { get; } = new Option<double>("--cache-wait")
    {
        Description = "Seconds to wait for another run that is using the same cache in this workspace before giving up",
        DefaultValueFactory = _ => FeatureCacheOpenOptions.DefaultLockTimeout.TotalSeconds,
    }.Range(0, 86_400);
    public Option<bool> Json { get; } = new("--json") { Description = "Print one JSON document instead of text" };
    public Option<bool> Quiet { get; } = new("--quiet", "-q") { Description = "No progress output" };
    public BackboneOptions Backbone { get; } = BackboneOptions.Create();
    /// <summary>A feature folder the command may read instead of <see cref="Data"/> (train --features), or null.</summary>
    public Option<string?>? Features { get; set; }

    /// <summary>What the run reads: the dataset, or the feature folder.</summary>
    public string InputPath(ParseResult parse) =>
        parse.GetValue(Data) ?? (Features is null ? null : parse.GetValue(Features)) ?? throw new MLTransferException("No input was given", null, "Pass --data");

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Data, Output, Force, Seed, TestFraction, ValidationFraction, BalanceClasses, Workspace, NoCache, CacheWait, Json, Quiet })
            command.Options.Add(o);
        Backbone.AddTo(command);
    }

    /// <summary>True when progress and log lines are suppressed (--quiet, or --json keeping stdout clean).</summary>
    public bool Silent(ParseResult parse) => parse.GetValue(Quiet) || parse.GetValue(Json);

    public string OutputPath(ParseResult parse) =>
        parse.GetValue(Output) ?? Path.Combine("models", DefaultModelName(InputPath(parse)) + outputSuffix + ".zip");

    /// <summary>
    /// Refuses, before any work, outputs that would land on the run's inputs or replace a foreign file; the
    /// same checks run again when the files are written, against everything the run actually read.
    /// </summary>
    public void CheckOutputs(ParseResult parse, string? reportDir = null)
    {
        var inputs = OutputGuard.InputsOf(InputPath(parse)).Append(Backbone.ExplicitFile(parse)).ToList();
        var force = parse.GetValue(Force);
        var output = OutputPath(parse);
        OutputGuard.Check(output, OutputKind.ModelZip, inputs, force);
        OutputGuard.Check(MetricsPath(output), OutputKind.MetricsJson, inputs, force);
        if (reportDir is not null)
            OutputGuard.Check(HtmlReportWriter.PathIn(reportDir), OutputKind.HtmlReport, inputs, force);
    }

    /// <summary>Library options from the shared flags; the caller adds its own.</summary>
    public TransferLearningOptions Apply(ParseResult parse, ConsoleProgress progress, FeatureExtractionOptions? extraction = null)
    {
        return new TransferLearningOptions
        {
            Backbone = Backbone.Source(parse),
            Seed = parse.GetValue(Seed),
            BalanceClasses = parse.GetValue(BalanceClasses),
            TestFraction = parse.GetValue(TestFraction),
            ValidationFraction = parse.GetValue(ValidationFraction),
            Cache = new FeatureCacheOptions
            {
                WorkspacePath = parse.GetValue(Workspace),
                Enabled = !parse.GetValue(NoCache),
                LockTimeout = TimeSpan.FromSeconds(parse.GetValue(CacheWait)),
            },
            Extraction = (extraction ?? new FeatureExtractionOptions()) with { Progress = progress },
            // Through the progress, so a log line never lands on the live progress line.
            Log = progress.Log,
        };
    }

    /// <summary>Saves the model zip and its metrics JSON beside it (neither onto the run's inputs); returns the metrics path.</summary>
    public string Save(ParseResult parse, TrainedModel model, string outputPath)
    {
        var force = parse.GetValue(Force);
        var metricsPath = MetricsPath(outputPath);
        OutputGuard.Check(metricsPath, OutputKind.MetricsJson, model.Inputs, force);
        model.Save(outputPath, force);
        ProcessTemp.WriteAtomically(metricsPath, temp => MetricsJson.WriteFile(temp, model.Report));
        return metricsPath;
    }

    /// <summary>
    /// Writes the HTML report of a run into <paramref name="dir"/> (not into its inputs). The saved zip is loaded
    /// as apps load it, to draw the occlusion maps with the model exactly as saved.
    /// </summary>
    public string WriteReport(ParseResult parse, TrainedModel model, string dir, string savedZip, Func<ImageClassifier, ReportContent>? content = null)
    {
        OutputGuard.Check(HtmlReportWriter.PathIn(dir), OutputKind.HtmlReport, model.Inputs, parse.GetValue(Force));
        using var classifier = ImageClassifier.Load(savedZip);
        return HtmlReportWriter.Write(dir, content?.Invoke(classifier) ?? ReportContentFactory.FromTraining(model, classifier));
    }

    private static string MetricsPath(string outputPath) => Path.ChangeExtension(outputPath, ".metrics.json");

    private static string DefaultModelName(string dataPath)
    {
        var full = Path.GetFullPath(dataPath).TrimEnd(Path.DirectorySeparatorChar);
        var name = File.Exists(full) ? Path.GetFileNameWithoutExtension(full) : Path.GetFileName(full);
        return string.IsNullOrEmpty(name) ? "model" : name;
    }
}
