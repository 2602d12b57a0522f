using System.CommandLine;
using System.Globalization;
using System.Text;
using MLTransfer.Evaluation;
using MLTransfer.FineTuning;
using MLTransfer.Reporting;

namespace MLTransfer.Cli;

/// <summary><c>mltransfer finetune</c>: like <c>train</c>, but the last layers of the backbone are retrained too.</summary>
internal static class FineTuneCommand
{
    public static Command Create()
    {
        var defaults = new FineTuningOptions();
        var unfreeze = new Option<int>("--unfreeze") { Description = "Conv layers, counted back from the feature tensor, to retrain (the cut moves down to keep a residual block whole)", DefaultValueFactory = _ => defaults.Unfreeze }.Range(1, 10_000);
        var epochs = new Option<int>("--epochs") { Description = "Maximum epochs (early stopping keeps the best one: on validation, or by cross-validation on train when validation is the held-out set)", DefaultValueFactory = _ => defaults.MaxEpochs }.Range(0, 100_000);
        var patience = new Option<int>("--patience") { Description = "Epochs without improvement before stopping", DefaultValueFactory = _ => defaults.Patience }.Range(1, 100_000);
        var lr = new Option<float>("--lr") { Description = "Adam learning rate of the head", DefaultValueFactory = _ => defaults.LearningRate }.Positive();
        var backboneLr = new Option<float>("--backbone-lr-factor") { Description = "Backbone learning rate as a fraction of --lr", DefaultValueFactory = _ => defaults.BackboneLearningRateFactor }.NonNegative();
        var folds = new Option<int>("--selection-folds") { Description = "Without a test split (validation is the held-out set): folds of the cross-validation on the training images that chooses the epoch count (below 2: carve 15% of them instead)", DefaultValueFactory = _ => defaults.SelectionFolds }.Range(0, 100);
        var batch = new Option<int>("--batch-size") { Description = "Images per training step", DefaultValueFactory = _ => defaults.BatchSize }.Range(1, 4096);
        var report = new Option<string?>("--report") { Description = "Also write a self-contained HTML report (report.html, with the learning curves) into this folder" };
        var run = new RunOptions("-finetuned", "activation");

        var command = new Command("finetune", "Train a classifier and retrain the last layers of the backbone with it (discriminative learning rates, early stopping)")
        {
            unfreeze, epochs, patience, lr, backboneLr, batch, folds, report,
        };
        run.AddTo(command);
        command.SetAction(parse =>
        {
            var asJson = parse.GetValue(run.Json);
            return CommandRunner.Run(asJson, () =>
            {
                var outputPath = run.OutputPath(parse);
                run.CheckOutputs(parse, parse.GetValue(report));
                var progress = new ConsoleProgress(run.Silent(parse));
                var transfer = run.Apply(parse, progress);
                using var result = FineTuner.Run(parse.GetValue(run.Data)!, defaults with
                {
                    Transfer = transfer,
                    Unfreeze = parse.GetValue(unfreeze),
                    MaxEpochs = parse.GetValue(epochs),
                    Patience = parse.GetValue(patience),
                    LearningRate = parse.GetValue(lr),
                    BackboneLearningRateFactor = parse.GetValue(backboneLr),
                    BatchSize = parse.GetValue(batch),
                    SelectionFolds = parse.GetValue(folds),
                }, Cancellation.Token);
                progress.Complete();
                Cancellation.Token.ThrowIfCancellationRequested();
                var metricsPath = run.Save(parse, result.Model, outputPath);
                var reportPath = parse.GetValue(report) is { } reportDir
                    ? run.WriteReport(parse, result.Model, reportDir, outputPath, classifier => ReportContentFactory.FromFineTuning(result, classifier))
                    : null;
                if (asJson)
                {
                    CommandRunner.WriteJson(new { model = Path.GetFullPath(outputPath), metrics = Path.GetFullPath(metricsPath), htmlReport = reportPath, fineTuning = result.Report, report = result.Model.Report, metadata = result.Model.Metadata });
                    return ExitCodes.Success;
                }
                Console.WriteLine(Describe(result));
                if (reportPath is not null)
                    Console.WriteLine($"Report: {reportPath}");
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
        text.AppendLine(f.SelectionFolds >= 2
            ? $"Early stopping on {f.SelectionSet} ({f.SelectionImages} images, each scored out of fold; curves below are pooled over the folds); the saved backbone is trained on all {f.FitImages} for the chosen number of epochs"
            : $"Early stopping on {f.SelectionSet} ({f.SelectionImages} images); trained on {f.FitImages} images");
        text.AppendLine("epoch  train loss  train acc  stop loss  stop acc  seconds");
        foreach (var e in f.Epochs)
            text.AppendLine(string.Create(inv, $"{e.Epoch,5}  {e.TrainLoss,10:F4}  {e.TrainAccuracy,9:F3}  {e.SelectionLoss,9:F4}  {e.SelectionAccuracy,8:F3}  {e.Seconds,7:F1}{(e.Epoch == f.BestEpoch ? "  <- kept" : "")}"));
        if (f.KeptFrozenBackbone)
            text.AppendLine("No fine-tuning epoch beat the frozen backbone on the early-stopping score: the backbone is saved unchanged, so the model is the frozen-backbone model.");
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
        if (r.Train is not null)
            text.AppendLine(Reports.TrainLine(r));
        if (r.Confidence is not null)
            text.AppendLine(Reports.ConfidenceSummary(r.Confidence));
        text.Append(string.Create(inv,
            $"Time: {r.TotalTime.TotalSeconds:F1} s total; cut activations {f.CutExtractionTime.TotalSeconds:F1} s ({r.ImagesExtracted} computed, {r.ImagesFromCache} from cache); head warm-up {f.HeadWarmupTime.TotalSeconds:F1} s; fine-tuning {f.FineTuningTime.TotalSeconds:F1} s"));
        return text.ToString();
    }
}
