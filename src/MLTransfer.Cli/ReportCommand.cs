using System.CommandLine;
using MLTransfer.Export;
using MLTransfer.Inference;
using MLTransfer.Reporting;

namespace MLTransfer.Cli;

/// <summary><c>mltransfer report</c>: evaluate a saved model on a labelled folder and write the HTML report.</summary>
internal static class ReportCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "Model zip (from 'mltransfer train' or 'finetune', or a saved TransferImageClassification pipeline)", Required = true };
        var data = new Option<string>("--data") { Description = "Labelled images: class folders or a CSV/TSV manifest", Required = true };
        var output = new Option<string>("--out") { Description = "Folder for report.html", DefaultValueFactory = _ => "report" };
        var json = new Option<bool>("--json") { Description = "Print one JSON document instead of text" };
        var force = new Option<bool>("--force") { Description = "Replace an existing report.html even if MLTransfer did not write it" };
        var command = new Command("report", "Evaluate a saved model on labelled images and write a self-contained HTML report") { model, data, output, json, force };
        command.SetAction(parse =>
        {
            var asJson = parse.GetValue(json);
            return CommandRunner.Run(asJson, () =>
            {
                OutputGuard.Check(HtmlReportWriter.PathIn(parse.GetValue(output)!), OutputKind.HtmlReport,
                    [.. OutputGuard.InputsOf(parse.GetValue(data)!), parse.GetValue(model)], parse.GetValue(force));
                using var classifier = ImageClassifier.Load(parse.GetValue(model)!);
                var result = ModelEvaluator.Evaluate(classifier, parse.GetValue(data)!);
                var path = HtmlReportWriter.Write(parse.GetValue(output)!, ReportContentFactory.FromEvaluation(classifier, result, parse.GetValue(data)!));
                if (asJson)
                    CommandRunner.WriteJson(new { report = path, metrics = result.Metrics, skipped = result.Skipped });
                else
                    Console.WriteLine($"Report: {path} (accuracy {result.Metrics.Accuracy:F4} on {result.Metrics.Count} images)");
                return ExitCodes.Success;
            });
        });
        return command;
    }
}
