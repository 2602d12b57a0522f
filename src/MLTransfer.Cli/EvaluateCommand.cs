using System.CommandLine;
using MLTransfer.Evaluation;
using MLTransfer.Inference;

namespace MLTransfer.Cli;

/// <summary><c>mltransfer evaluate</c>: score a saved model on a labelled folder.</summary>
internal static class EvaluateCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "Model zip (from 'mltransfer train' or 'finetune', or a saved TransferImageClassification pipeline)", Required = true };
        var data = new Option<string>("--data") { Description = "Labelled images: class folders or a CSV/TSV manifest", Required = true };
        var json = new Option<bool>("--json") { Description = "Print one JSON document instead of text" };
        var command = new Command("evaluate", "Score a saved model on a labelled image folder") { model, data, json };
        command.SetAction(parse =>
        {
            var asJson = parse.GetValue(json);
            return CommandRunner.Run(asJson, () =>
            {
                using var classifier = ImageClassifier.Load(parse.GetValue(model)!);
                var result = ModelEvaluator.Evaluate(classifier, parse.GetValue(data)!);
                if (asJson)
                {
                    CommandRunner.WriteJson(new { metrics = result.Metrics, skipped = result.Skipped });
                    return ExitCodes.Success;
                }
                if (result.Skipped.Count > 0)
                    Console.WriteLine(Reports.SkippedList(result.Skipped.Select(s => (s.Path, s.Reason)).ToList()));
                Console.WriteLine(MetricsTable.Format(result.Metrics, $"Evaluation of {Path.GetFileName(parse.GetValue(model))} on {parse.GetValue(data)}"));
                return ExitCodes.Success;
            });
        });
        return command;
    }
}
