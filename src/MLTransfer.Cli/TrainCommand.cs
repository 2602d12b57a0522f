using System.CommandLine;
using System.Globalization;
using MLTransfer.Evaluation;
using MLTransfer.Features;
using MLTransfer.Heads;
using MLTransfer.Training;

namespace MLTransfer.Cli;

/// <summary><c>mltransfer train</c>: folder of labelled images → model zip + metrics.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var run = new RunOptions("", "feature");
        var head = new Option<string>("--head") { Description = "Head trainer: lbfgs or sdca (ML.NET), or softmax or mlp (TransferImageClassification's heads: --epochs, --hidden, --learning-rate, --dropout, --augment)", DefaultValueFactory = _ => "lbfgs" };
        head.AcceptOnlyFromAmong("lbfgs", "sdca", "softmax", "mlp");
        var neural = new NeuralHeadTraining();
        var l2 = new Option<float?>("--l2") { Description = "L2 regularisation of the head [default: trainer's]" }.NonNegative();
        var l1 = new Option<float?>("--l1") { Description = "L1 regularisation of the head [default: trainer's]" }.NonNegative();
        var batchSize = new Option<int>("--batch-size") { Description = "Images per backbone call", DefaultValueFactory = _ => new FeatureExtractionOptions().BatchSize }
            .Range(1, FeatureExtractionOptions.MaxBatchSize);
        var report = new Option<string?>("--report") { Description = "Also write a self-contained HTML report (report.html) into this folder" };

        var int8 = new Option<string?>("--int8") { Description = "Run the int8 copy of the backbone that 'mltransfer quantize' wrote (the zip then carries it)" };
        var features = new Option<string?>("--features") { Description = "Train from the feature shards that 'mltransfer extract' wrote into this folder, without running the backbone (instead of --data)" };

        var command = new Command("train", "Train a classifier on a folder of labelled images and save it as a model zip")
        {
            head, l2, l1, batchSize, report, features, int8,
        };
        run.AddTo(command);
        // Either input will do, so neither is marked required; both are listed first, where a required one would be.
        run.Data.Required = false;
        run.Data.Description += " (REQUIRED unless --features is given)";
        run.Features = features;
        foreach (var input in new Option[] { features, run.Data })
        {
            command.Options.Remove(input);
            command.Options.Insert(0, input);
        }
        command.Validators.Add(r =>
        {
            var (hasData, hasFeatures) = (r.GetValue(run.Data) is not null, r.GetValue(features) is not null);
            if (hasData == hasFeatures)
                r.AddError(hasData ? "Give --data or --features, not both" : "Option '--data' is required (or --features FOLDER to train from extracted feature shards)");
            // The estimator's heads train on images (their augmentation views need the pictures), and run the float backbone.
            else if (NeuralHeadTraining.Handles(r.GetValue(head)!) && (hasFeatures || r.GetValue(int8) is not null))
                r.AddError($"--head {r.GetValue(head)} trains from --data with the float backbone; --features and --int8 work with --head lbfgs or sdca");
        });
        foreach (var option in neural.All)
            command.Options.Add(option);
        command.SetAction(parse =>
        {
            var asJson = parse.GetValue(run.Json);
            return CommandRunner.Run(asJson, () =>
            {
                var outputPath = run.OutputPath(parse);
                run.CheckOutputs(parse, parse.GetValue(report));
                var progress = new ConsoleProgress(run.Silent(parse));
                if (NeuralHeadTraining.Handles(parse.GetValue(head)!))
                {
                    if (parse.GetValue(report) is not null || parse.GetValue(l1) is not null)
                        throw new MLTransferException($"--{(parse.GetValue(report) is not null ? "report" : "l1")} is not available with --head {parse.GetValue(head)}", null,
                            "Leave it out; after training, 'mltransfer report --model ZIP --data DIR' writes the report of any model");
                    var neuralOptions = run.Apply(parse, progress, new FeatureExtractionOptions { BatchSize = parse.GetValue(batchSize) }) with { L2Regularization = parse.GetValue(l2) };
                    var result = neural.Run(parse, run, neuralOptions, parse.GetValue(head)!, outputPath, asJson);
                    progress.Complete();
                    return result;
                }
                var options = run.Apply(parse, progress, new FeatureExtractionOptions { BatchSize = parse.GetValue(batchSize) }) with
                {
                    Head = parse.GetValue(head) == "sdca" ? HeadKind.SdcaMaximumEntropy : HeadKind.LbfgsMaximumEntropy,
                    L2Regularization = parse.GetValue(l2),
                    L1Regularization = parse.GetValue(l1),
                };
                if (parse.GetValue(int8) is { } quantized)
                    options = options with { Backbone = options.Backbone with { Int8Graph = quantized } };
                using var model = parse.GetValue(features) is { } folder
                    ? TransferLearner.TrainFromFeatures(folder, options, Cancellation.Token)
                    : TransferLearner.Train(parse.GetValue(run.Data)!, options, Cancellation.Token);
                progress.Complete();
                Cancellation.Token.ThrowIfCancellationRequested();
                var metricsPath = run.Save(parse, model, outputPath);
                var reportPath = parse.GetValue(report) is { } reportDir ? run.WriteReport(parse, model, reportDir, outputPath) : null;
                if (asJson)
                {
                    CommandRunner.WriteJson(new { model = Path.GetFullPath(outputPath), metrics = Path.GetFullPath(metricsPath), htmlReport = reportPath, report = model.Report, metadata = model.Metadata });
                    return ExitCodes.Success;
                }
                var r = model.Report;
                if (r.BackboneCandidates.Count > 0)
                    Console.WriteLine(Reports.CandidatesTable(r.BackboneCandidates));
                // The log above already gave the reason, unless it was silenced: each fact is printed once.
                Console.WriteLine(run.Silent(parse) ? $"Backbone: {r.Backbone} ({r.BackboneReason})" : $"Backbone: {r.Backbone}");
                Console.WriteLine(Reports.CountsTable(r));
                if (r.Skipped.Count > 0)
                    Console.WriteLine(Reports.SkippedList(r.Skipped.Select(s => (s.Path, s.Reason)).ToList()));
                if (r.Validation is not null)
                    Console.WriteLine(MetricsTable.Format(r.Validation, r.ValidationIsHeldOut ? "Validation (held-out; no test split given)" : "Validation"));
                if (r.Test is not null)
                    Console.WriteLine(MetricsTable.Format(r.Test, "Test (never used for training or model selection)"));
                if (r.Train is not null)
                    Console.WriteLine(Reports.TrainLine(r));
                if (r.Confidence is not null)
                    Console.WriteLine(Reports.ConfidenceSummary(r.Confidence));
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
}
