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
        var minConfidence = new Option<float>("--min-confidence")
        {
            Description = "Abstain when the top (calibrated) probability is below this; the model also abstains on images it judges out of domain",
            DefaultValueFactory = _ => 0f,
        }.Probability();
        var json = new Option<bool>("--json") { Description = "Print one JSON document instead of text" };
        var images = new Argument<string[]>("images") { Description = "Image files", Arity = ArgumentArity.OneOrMore };
        var command = new Command("predict", "Classify images with a saved model, saying when it does not stand by the answer") { model, top, minConfidence, json, images };
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
                        var p = classifier.Predict(path, parse.GetValue(top), parse.GetValue(minConfidence));
                        results.Add(new
                        {
                            image = path,
                            label = p.IsConfident ? p.Label : null,
                            probability = p.Probability,
                            isConfident = p.IsConfident,
                            abstention = p.Abstention,
                            reason = Verdict(p),
                            mostProbable = p.Label,
                            outOfDomainScore = p.OutOfDomainScore,
                            outOfDomainThreshold = p.OutOfDomainThreshold,
                            topK = p.TopK,
                        });
                        if (!asJson)
                            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                                $"{path}: {(p.IsConfident ? p.Label : "(abstains)")} {p.Probability:F3}  ({string.Join(", ", p.TopK.Select(t => $"{t.Label} {t.Probability:F3}"))}); {Verdict(p)}"));
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

    /// <summary>The verdict in words: confident, or why not, with the figures it rests on.</summary>
    internal static string Verdict(ImagePrediction p)
    {
        var inv = CultureInfo.InvariantCulture;
        var distance = p.OutOfDomainScore is { } d
            ? string.Create(inv, $"out-of-domain score {d:F3}{(p.OutOfDomainThreshold is { } t ? $" (threshold {t:F3})" : "")}")
            : "no out-of-domain check (model saved without calibration)";
        return p.Abstention switch
        {
            AbstentionReason.OutOfDomain => $"abstains: out of domain, the image is unlike every class the model knows ({distance}); the most probable class would be {p.Label}",
            AbstentionReason.LowProbability => string.Create(inv, $"abstains: probability {p.Probability:F3} of {p.Label} is below --min-confidence {p.MinConfidence:F2}; {distance}"),
            _ => $"confident; {distance}",
        };
    }
}
