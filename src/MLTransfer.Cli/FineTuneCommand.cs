using System.CommandLine;
using System.Globalization;
using System.Text;
using MLTransfer.Evaluation;
using MLTransfer.Export;
using MLTransfer.Features;
using MLTransfer.FineTuning;
using MLTransfer.Training;

namespace MLTransfer.Cli;

/// <summary><c>mltransfer finetune</c>: like <c>train</c>, but the last layers of the backbone are retrained too.</summary>
internal static class FineTuneCommand
{
    public static Command Create()
    {
        var defaults = new FineTuningOptions();
        var data = new Option<string>("--data") { Description = "Dataset: a folder with one sub-folder per class (or train/ val/ [test/] folders), or a CSV/TSV manifest (path,label)", Required = true };
        var output = new Option<string?>("--output", "-o") { Description = "Model zip to write [default: models/<data folder name>-finetuned.zip]" };
        var unfreeze = new Option<int>("--unfreeze") { Description = "Conv layers, counted back from the feature tensor, to retrain (the cut moves down to keep a residual block whole)", DefaultValueFactory = _ => defaults.Unfreeze };
        var epochs = new Option<int>("--epochs") { Description = "Maximum epochs (early stopping on validation keeps the best one)", DefaultValueFactory = _ => defaults.MaxEpochs };
        var patience = new Option<int>("--patience") { Description = "Epochs without improvement before stopping", DefaultValueFactory = _ => defaults.Patience };
        var lr = new Option<float>("--lr") { Description = "Adam learning rate of the head", DefaultValueFactory = _ => defaults.LearningRate };
        var backboneLr = new Option<float>("--backbone-lr-factor") { Description = "Backbone learning rate as a fraction of --lr", DefaultValueFactory = _ => defaults.BackboneLearningRateFactor };
        var batch = new Option<int>("--batch-size") { Description = "Images per training step", DefaultValueFactory = _ => defaults.BatchSize };
        var seed = new Option<int>("--seed") { Description = "Seed of the split, the shuffling and the trainer", DefaultValueFactory = _ => 42 };
        var testFraction = new Option<double>("--test-fraction") { Description = "Fraction of each class held out for testing", DefaultValueFactory = _ => 0.15 };
        var validationFraction = new Option<double>("--validation-fraction") { Description = "Fraction of each class held out for validation", DefaultValueFactory = _ => 0.15 };
        var workspace = new Option<string?>("--workspace") { Description = "Folder for the activation cache [default: ~/.cache/mltransfer/workspace]" };
        var noCache = new Option<bool>("--no-cache") { Description = "Neither read nor write cached activations" };
        var backbone = BackboneOptions.Create();
        var json = new Option<bool>("--json") { Description = "Print one JSON document instead of text" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No progress output" };

        var command = new Command("finetune", "Train a classifier and retrain the last layers of the backbone with it (discriminative learning rates, early stopping)")
        {
            data, output, unfreeze, epochs, patience, lr, backboneLr, batch, seed, testFraction, validationFraction, workspace, noCache, json, quiet,
        };
        backbone.AddTo(command);
        command.SetAction(parse =>
        {
            var asJson = parse.GetValue(json);
            var silent = parse.GetValue(quiet) || asJson;
            return CommandRunner.Run(asJson, () =>
            {
                var dataPath = parse.GetValue(data)!;
                var outputPath = parse.GetValue(output) ?? Path.Combine("models", DefaultModelName(dataPath) + "-finetuned.zip");
                var progress = new ConsoleProgress(silent);
                void Log(string line)
                {
                    if (!silent)
                        Console.Error.WriteLine(line);
                }
                var transfer = backbone.Apply(parse, new TransferLearningOptions
                {
                    Seed = parse.GetValue(seed),
                    TestFraction = parse.GetValue(testFraction),
                    ValidationFraction = parse.GetValue(validationFraction),
                    WorkspacePath = parse.GetValue(workspace),
                    UseFeatureCache = !parse.GetValue(noCache),
                    Extraction = new FeatureExtractionOptions { Progress = progress },
                    Log = Log,
                });
                using var result = FineTuner.Run(dataPath, defaults with
                {
                    Transfer = transfer,
                    Unfreeze = parse.GetValue(unfreeze),
                    MaxEpochs = parse.GetValue(epochs),
                    Patience = parse.GetValue(patience),
                    LearningRate = parse.GetValue(lr),
                    BackboneLearningRateFactor = parse.GetValue(backboneLr),
                    BatchSize = parse.GetValue(batch),
                });
                progress.Complete();
                result.Model.Save(outputPath);
                var metricsPath = Path.ChangeExtension(outputPath, ".metrics.json");
                ModelPackage.WriteAtomically(metricsPath, temp => MetricsJson.WriteFile(temp, result.Model.Report));
                if (asJson)
                {
                    CommandRunner.WriteJson(new { model = Path.GetFullPath(outputPath), metrics = Path.GetFullPath(metricsPath), fineTuning = result.Report, report = result.Model.Report, metadata = result.Model.Metadata });
                    return ExitCodes.Success;
                }
                Console.WriteLine(Describe(result));
                Console.WriteLine($"Model: {Path.GetFullPath(outputPath)}");
                Console.WriteLine($"Metrics: {Path.GetFullPath(metricsPath)}");
                return ExitCodes.Success;
            });
        });
        return command;
    }

    private static string Describe(FineTuningResult result)
    {
        var f = result.Report;
        var r = result.Model.Report;
        var text = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        text.AppendLine($"Backbone: {r.Backbone}; {f.Cut}; {f.TrainableParameters.ToString("N0", inv)} weights retrained");
        text.AppendLine(Reports.CountsTable(r));
        text.AppendLine($"Early stopping on {f.SelectionSet} ({f.SelectionImages} images); trained on {f.FitImages} images");
        text.AppendLine("epoch  train loss  train acc  stop loss  stop acc  seconds");
        foreach (var e in f.Epochs)
            text.AppendLine(string.Create(inv, $"{e.Epoch,5}  {e.TrainLoss,10:F4}  {e.TrainAccuracy,9:F3}  {e.SelectionLoss,9:F4}  {e.SelectionAccuracy,8:F3}  {e.Seconds,7:F1}{(e.Epoch == f.BestEpoch ? "  <- kept" : "")}"));
        text.AppendLine();
        text.AppendLine("                  frozen backbone  fine-tuned");
        if (f.FrozenValidation is not null)
            text.AppendLine(string.Create(inv, $"validation acc    {f.FrozenValidation.Accuracy,15:F4}  {f.FineTunedValidation!.Accuracy,10:F4}{(r.ValidationIsHeldOut ? "  (held-out: early stopping did not use it)" : "")}"));
        if (f.FrozenTest is not null)
            text.AppendLine(string.Create(inv, $"test acc          {f.FrozenTest.Accuracy,15:F4}  {f.FineTunedTest!.Accuracy,10:F4}"));
        if (r.Test is not null)
            text.AppendLine(MetricsTable.Format(r.Test, "Test, fine-tuned (never used for training or model selection)"));
        else if (r.Validation is not null)
            text.AppendLine(MetricsTable.Format(r.Validation, "Validation, fine-tuned (held-out; no test split given)"));
        text.Append(string.Create(inv,
            $"Time: {r.TotalTime.TotalSeconds:F1} s total; cut activations {f.CutExtractionTime.TotalSeconds:F1} s ({r.ImagesExtracted} computed, {r.ImagesFromCache} from cache); head warm-up {f.HeadWarmupTime.TotalSeconds:F1} s; fine-tuning {f.FineTuningTime.TotalSeconds:F1} s"));
        return text.ToString();
    }

    private static string DefaultModelName(string dataPath)
    {
        var full = Path.GetFullPath(dataPath).TrimEnd(Path.DirectorySeparatorChar);
        var name = File.Exists(full) ? Path.GetFileNameWithoutExtension(full) : Path.GetFileName(full);
        return string.IsNullOrEmpty(name) ? "model" : name;
    }
}
