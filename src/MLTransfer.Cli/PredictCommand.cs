using System.CommandLine;
using System.Globalization;
using MLTransfer.Images;
using MLTransfer.Inference;

namespace MLTransfer.Cli;

/// <summary><c>mltransfer predict</c>: classify image files with a saved model.</summary>
internal static class PredictCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "Model zip written by 'mltransfer train'", Required = true };
        var top = new Option<int>("--top") { Description = "Classes listed per image", DefaultValueFactory = _ => 3 }.Range(1, 100_000);
        var json = new Option<bool>("--json") { Description = "Print one JSON document instead of text" };
        var images = new Argument<string[]>("images") { Description = "Image files", Arity = ArgumentArity.OneOrMore };
        var command = new Command("predict", "Classify images with a saved model") { model, top, json, images };
        command.SetAction(parse =>
        {
            var asJson = parse.GetValue(json);
            return CommandRunner.Run(asJson, () =>
            {
                using var classifier = ImageClassifier.Load(parse.GetValue(model)!);
                var results = new List<object>();
                var failures = 0;
                foreach (var path in parse.GetValue(images)!)
                {
                    try
                    {
                        var p = classifier.Predict(path, parse.GetValue(top));
                        results.Add(new { image = path, label = p.Label, probability = p.Probability, topK = p.TopK });
                        if (!asJson)
                            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                                $"{path}: {p.Label} {p.Probability:F3}  ({string.Join(", ", p.TopK.Select(t => $"{t.Label} {t.Probability:F3}"))})"));
                    }
                    catch (ImageDecodeException e)
                    {
                        failures++;
                        results.Add(new { image = path, error = e.Reason });
                        Console.Error.WriteLine($"error: {path}: {e.Reason}");
                    }
                }
                if (asJson)
                    CommandRunner.WriteJson(new { model = parse.GetValue(model), predictions = results });
                return failures == 0 ? ExitCodes.Success : ExitCodes.Failure;
            });
        });
        return command;
    }
}
