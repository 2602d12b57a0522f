using System.CommandLine;
using MLTransfer.Evaluation;
using MLTransfer.Export;
using MLTransfer.Features;
using MLTransfer.Training;

namespace MLTransfer.Cli;

/// <summary>
/// The flags every training command shares (data, output, split, cache, output mode) and the steps they
/// share around the library call: building the options, progress and log, and writing the model and metrics.
/// </summary>
internal sealed class RunOptions(string outputSuffix, string workspaceContent)
{
    public Option<string> Data { get; } = new("--data") { Description = "Dataset: a folder with one sub-folder per class (or train/ val/ [test/] folders), or a CSV/TSV manifest (path,label)", Required = true };
    public Option<string?> Output { get; } = new("--output", "-o") { Description = $"Model zip to write [default: models/<data folder name>{outputSuffix}.zip]" };
    public Option<int> Seed { get; } = new("--seed") { Description = "Seed of the split and the trainer", DefaultValueFactory = _ => 42 };
    public Option<double> TestFraction { get; } = new("--test-fraction") { Description = "Fraction of each class held out for testing", DefaultValueFactory = _ => 0.15 };
    public Option<double> ValidationFraction { get; } = new("--validation-fraction") { Description = "Fraction of each class held out for validation", DefaultValueFactory = _ => 0.15 };
    public Option<string?> Workspace { get; } = new("--workspace") { Description = $"Folder for the {workspaceContent} cache [default: ~/.cache/mltransfer/workspace]" };
    public Option<bool> NoCache { get; } = new("--no-cache") { Description = $"Neither read nor write cached {workspaceContent}" };
    public Option<bool> Json { get; } = new("--json") { Description = "Print one JSON document instead of text" };
    public Option<bool> Quiet { get; } = new("--quiet", "-q") { Description = "No progress output" };
    public BackboneOptions Backbone { get; } = BackboneOptions.Create();

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Data, Output, Seed, TestFraction, ValidationFraction, Workspace, NoCache, Json, Quiet })
            command.Options.Add(o);
        Backbone.AddTo(command);
    }

    /// <summary>True when progress and log lines are suppressed (--quiet, or --json keeping stdout clean).</summary>
    public bool Silent(ParseResult parse) => parse.GetValue(Quiet) || parse.GetValue(Json);

    public string OutputPath(ParseResult parse) =>
        parse.GetValue(Output) ?? Path.Combine("models", DefaultModelName(parse.GetValue(Data)!) + outputSuffix + ".zip");

    /// <summary>Library options from the shared flags; the caller adds its own.</summary>
    public TransferLearningOptions Apply(ParseResult parse, ConsoleProgress progress, FeatureExtractionOptions? extraction = null)
    {
        var silent = Silent(parse);
        return Backbone.Apply(parse, new TransferLearningOptions
        {
            Seed = parse.GetValue(Seed),
            TestFraction = parse.GetValue(TestFraction),
            ValidationFraction = parse.GetValue(ValidationFraction),
            WorkspacePath = parse.GetValue(Workspace),
            UseFeatureCache = !parse.GetValue(NoCache),
            Extraction = (extraction ?? new FeatureExtractionOptions()) with { Progress = progress },
            Log = line =>
            {
                if (!silent)
                    Console.Error.WriteLine(line);
            },
        });
    }

    /// <summary>Saves the model zip and its metrics JSON beside it; returns the metrics path.</summary>
    public static string Save(TrainedModel model, string outputPath)
    {
        model.Save(outputPath);
        var metricsPath = Path.ChangeExtension(outputPath, ".metrics.json");
        ModelPackage.WriteAtomically(metricsPath, temp => MetricsJson.WriteFile(temp, model.Report));
        return metricsPath;
    }

    private static string DefaultModelName(string dataPath)
    {
        var full = Path.GetFullPath(dataPath).TrimEnd(Path.DirectorySeparatorChar);
        var name = File.Exists(full) ? Path.GetFileNameWithoutExtension(full) : Path.GetFileName(full);
        return string.IsNullOrEmpty(name) ? "model" : name;
    }
}
