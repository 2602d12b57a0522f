using System.CommandLine;
using System.Globalization;
using System.Text;
using MLTransfer.Images;
using MLTransfer.Inference;

namespace MLTransfer.Cli;

/// <summary><c>mltransfer predict</c>: classify image files, folders or globs with a saved model.</summary>
internal static class PredictCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "Model zip (from 'mltransfer train' or 'finetune', or a saved TransferImageClassification pipeline)", Required = true };
        var top = new Option<int>("--top") { Description = "Classes listed per image", DefaultValueFactory = _ => 3 }.Range(1, 100_000);
        var minConfidence = new Option<float>("--min-confidence")
        {
            Description = "Abstain when the top (calibrated) probability is below this; the model also abstains on images it judges out of domain",
            DefaultValueFactory = _ => 0f,
        }.Probability();
        var json = new Option<bool>("--json") { Description = "Print one JSON document instead of text" };
        var csv = new Option<bool>("--csv") { Description = "Print CSV for batch scoring: image, label (empty when the model abstains), probability, abstention, error, then one probability column per class" };
        var images = new Argument<string[]>("images")
        {
            Description = "Image files, folders (every image under them) or quoted globs such as 'photos/**/*.jpg'",
            Arity = ArgumentArity.OneOrMore,
        };
        var command = new Command("predict", "Classify images (files, folders or globs) with a saved model, saying when it does not stand by the answer")
        {
            model, top, minConfidence, json, csv, images,
        };
        command.Validators.Add(r =>
        {
            if (r.GetValue(json) && r.GetValue(csv))
                r.AddError("--json and --csv cannot be combined; choose one output format");
        });
        command.SetAction(parse =>
        {
            var asJson = parse.GetValue(json);
            return CommandRunner.Run(asJson, () =>
            {
                var files = ImageArguments.Expand(parse.GetValue(images)!);
                using var classifier = ImageClassifier.Load(parse.GetValue(model)!);
                var (topK, threshold) = (parse.GetValue(top), parse.GetValue(minConfidence));
                // The classifier is thread-safe; batches of files are scored in parallel and printed in order.
                var results = new (ImagePrediction? Prediction, string? Error)[files.Count];
                Parallel.For(0, files.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = Cancellation.Token }, i =>
                {
                    try
                    {
                        results[i] = (classifier.Predict(files[i], topK, threshold), null);
                    }
                    catch (ImageDecodeException e)
                    {
                        results[i] = (null, e.Reason);
                    }
                });
                for (var i = 0; i < files.Count; i++)
                    if (results[i].Error is { } error)
                        Console.Error.WriteLine($"error: {files[i]}: {error}");
                if (asJson)
                    CommandRunner.WriteJson(new
                    {
                        model = parse.GetValue(model),
                        predictions = files.Select((f, i) => results[i].Prediction is { } p
                            ? (object)new
                            {
                                image = f,
                                label = p.IsConfident ? p.Label : null,
                                probability = p.Probability,
                                isConfident = p.IsConfident,
                                abstention = p.Abstention,
                                reason = Verdict(p),
                                mostProbable = p.Label,
                                outOfDomainScore = p.OutOfDomainScore,
                                outOfDomainThreshold = p.OutOfDomainThreshold,
                                topK = p.TopK,
                            }
                            : new { image = f, error = results[i].Error }),
                    });
                else if (parse.GetValue(csv))
                    WriteCsv(Console.Out, classifier.ClassNames, files, results);
                else
                    for (var i = 0; i < files.Count; i++)
                        if (results[i].Prediction is { } p)
                            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                                $"{files[i]}: {(p.IsConfident ? p.Label : "(abstains)")} {p.Probability:F3}  ({string.Join(", ", p.TopK.Select(t => $"{t.Label} {t.Probability:F3}"))}); {Verdict(p)}"));
                return results.All(r => r.Error is null) ? ExitCodes.Success : ExitCodes.Failure;
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

    /// <summary>
    /// RFC 4180 CSV: a header, then one row per image (failed images keep their row, with the reason in <c>error</c>;
    /// an abstention leaves <c>label</c> empty and names its reason).
    /// </summary>
    private static void WriteCsv(TextWriter output, IReadOnlyList<string> classes, List<string> files, (ImagePrediction? Prediction, string? Error)[] results)
    {
        output.WriteLine(string.Join(',', new[] { "image", "label", "probability", "abstention", "error" }.Concat(classes).Select(Field)));
        for (var i = 0; i < files.Count; i++)
        {
            var row = new StringBuilder(Field(files[i]));
            if (results[i].Prediction is { } p)
            {
                row.Append(',').Append(p.IsConfident ? Field(p.Label) : "").Append(',').Append(p.Probability.ToString("R", CultureInfo.InvariantCulture))
                    .Append(',').Append(p.IsConfident ? "" : p.Abstention.ToString()).Append(',');
                foreach (var c in p.Probabilities)
                    row.Append(',').Append(c.Probability.ToString("R", CultureInfo.InvariantCulture));
            }
            else
            {
                row.Append(",,,,").Append(Field(results[i].Error!)).Append(',', classes.Count);
            }
            output.WriteLine(row);
        }
    }

    private static string Field(string value) =>
        value.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + value.Replace("\"", "\"\"") + "\"" : value;
}
