using System.CommandLine;
using System.Globalization;
using MLTransfer.Backbones;
using MLTransfer.Evaluation;
using MLTransfer.Export;
using MLTransfer.Features;
using MLTransfer.Reporting;
using MLTransfer.Training;

namespace MLTransfer.Cli;

/// <summary><c>mltransfer train</c>: folder of labelled images → model zip + metrics.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Dataset: a folder with one sub-folder per class (or train/ val/ [test/] folders), or a CSV/TSV manifest (path,label)", Required = true };
        var output = new Option<string?>("--output", "-o") { Description = "Model zip to write [default: models/<data folder name>.zip]" };
        var seed = new Option<int>("--seed") { Description = "Seed of the split and the trainer", DefaultValueFactory = _ => 42 };
        var testFraction = new Option<double>("--test-fraction") { Description = "Fraction of each class held out for testing", DefaultValueFactory = _ => 0.15 };
        var validationFraction = new Option<double>("--validation-fraction") { Description = "Fraction of each class held out for validation", DefaultValueFactory = _ => 0.15 };
        var head = new Option<string>("--head") { Description = "Head trainer: lbfgs or sdca", DefaultValueFactory = _ => "lbfgs" };
        head.AcceptOnlyFromAmong("lbfgs", "sdca");
        var l2 = new Option<float?>("--l2") { Description = "L2 regularisation of the head [default: trainer's]" };
        var l1 = new Option<float?>("--l1") { Description = "L1 regularisation of the head [default: trainer's]" };
        var workspace = new Option<string?>("--workspace") { Description = "Folder for the feature cache [default: ~/.cache/mltransfer/workspace]" };
        var noCache = new Option<bool>("--no-cache") { Description = "Neither read nor write cached features" };
        var batchSize = new Option<int>("--batch-size") { Description = "Images per backbone call", DefaultValueFactory = _ => new FeatureExtractionOptions().BatchSize };
        var backbone = BackboneOptions.Create();
        var report = new Option<string?>("--report") { Description = "Also write a self-contained HTML report (report.html) into this folder" };
        var json = new Option<bool>("--json") { Description = "Print one JSON document instead of text" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No progress output" };

        var command = new Command("train", "Train a classifier on a folder of labelled images and save it as a model zip")
        {
            data, output, seed, testFraction, validationFraction, head, l2, l1, workspace, noCache, batchSize, report, json, quiet,
        };
        backbone.AddTo(command);
        command.SetAction(parse =>
        {
            var asJson = parse.GetValue(json);
            var silent = parse.GetValue(quiet) || asJson;
            return CommandRunner.Run(asJson, () =>
            {
                var dataPath = parse.GetValue(data)!;
                var outputPath = parse.GetValue(output) ?? Path.Combine("models", DefaultModelName(dataPath) + ".zip");
                var progress = new ConsoleProgress(silent);
                void Log(string line)
                {
                    if (!silent)
                        Console.Error.WriteLine(line);
                }
                var options = backbone.Apply(parse, new TransferLearningOptions
                {
                    Seed = parse.GetValue(seed),
                    TestFraction = parse.GetValue(testFraction),
                    ValidationFraction = parse.GetValue(validationFraction),
                    Head = parse.GetValue(head) == "sdca" ? HeadKind.SdcaMaximumEntropy : HeadKind.LbfgsMaximumEntropy,
                    L2Regularization = parse.GetValue(l2),
                    L1Regularization = parse.GetValue(l1),
                    WorkspacePath = parse.GetValue(workspace),
                    UseFeatureCache = !parse.GetValue(noCache),
                    Extraction = new FeatureExtractionOptions { BatchSize = parse.GetValue(batchSize), Progress = progress },
                    Log = Log,
                });
                using var model = TransferLearner.Train(dataPath, options);
                progress.Complete();
                model.Save(outputPath);
                var metricsPath = Path.ChangeExtension(outputPath, ".metrics.json");
                ModelPackage.WriteAtomically(metricsPath, temp => MetricsJson.WriteFile(temp, model.Report));
                var reportPath = parse.GetValue(report) is { } reportDir ? HtmlReportWriter.Write(reportDir, ReportContentFactory.FromTraining(model)) : null;
                if (asJson)
                {
                    CommandRunner.WriteJson(new { model = Path.GetFullPath(outputPath), metrics = Path.GetFullPath(metricsPath), htmlReport = reportPath, report = model.Report, metadata = model.Metadata });
                    return ExitCodes.Success;
                }
                var r = model.Report;
                Console.WriteLine($"Backbone: {r.Backbone} ({r.BackboneReason})");
                Console.WriteLine(Reports.CountsTable(r));
                if (r.Skipped.Count > 0)
                    Console.WriteLine(Reports.SkippedList(r.Skipped.Select(s => (s.Path, s.Reason)).ToList()));
                if (r.Validation is not null)
                    Console.WriteLine(MetricsTable.Format(r.Validation, r.ValidationIsHeldOut ? "Validation (held-out; no test split given)" : "Validation"));
                if (r.Test is not null)
                    Console.WriteLine(MetricsTable.Format(r.Test, "Test (never used for training or model selection)"));
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"Time: {r.TotalTime.TotalSeconds:F1} s total, features {r.ExtractionTime.TotalSeconds:F1} s ({r.ImagesExtracted} extracted at {r.ExtractionImagesPerSecond:F0} images/s, {r.ImagesFromCache} from cache), head {r.HeadTrainingTime.TotalSeconds:F2} s"));
                Console.WriteLine($"Model: {Path.GetFullPath(outputPath)}");
                Console.WriteLine($"Metrics: {Path.GetFullPath(metricsPath)}");
                if (reportPath is not null)
                    Console.WriteLine($"Report: {reportPath}");
                return ExitCodes.Success;
            });
        });
        return command;
    }

    private static string DefaultModelName(string dataPath)
    {
        var full = Path.GetFullPath(dataPath).TrimEnd(Path.DirectorySeparatorChar);
        var name = File.Exists(full) ? Path.GetFileNameWithoutExtension(full) : Path.GetFileName(full);
        return string.IsNullOrEmpty(name) ? "model" : name;
    }
}
