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
        var json = new Option<bool>("--json") { Description = "Print one JSON document instead of text" };
        var csv = new Option<bool>("--csv") { Description = "Print CSV for batch scoring: image, label, probability, error, then one probability column per class" };
        var images = new Argument<string[]>("images")
        {
            Description = "Image files, folders (every image under them) or quoted globs such as 'photos/**/*.jpg'",
            Arity = ArgumentArity.OneOrMore,
        };
        var command = new Command("predict", "Classify images (files, folders or globs) with a saved model") { model, top, json, csv, images };
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
                var topK = parse.GetValue(top);
                // The classifier is thread-safe; batches of files are scored in parallel and printed in order.
                var results = new (ImagePrediction? Prediction, string? Error)[files.Count];
                Parallel.For(0, files.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = Cancellation.Token }, i =>
                {
                    try
                    {
                        results[i] = (classifier.Predict(files[i], topK), null);
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
                            ? (object)new { image = f, label = p.Label, probability = p.Probability, topK = p.TopK }
                            : new { image = f, error = results[i].Error }),
                    });
                else if (parse.GetValue(csv))
                    WriteCsv(Console.Out, classifier.ClassNames, files, results);
                else
                    for (var i = 0; i < files.Count; i++)
                        if (results[i].Prediction is { } p)
                            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                                $"{files[i]}: {p.Label} {p.Probability:F3}  ({string.Join(", ", p.TopK.Select(t => $"{t.Label} {t.Probability:F3}"))})"));
                return results.All(r => r.Error is null) ? ExitCodes.Success : ExitCodes.Failure;
            });
        });
        return command;
    }

    /// <summary>RFC 4180 CSV: a header, then one row per image (failed images keep their row, with the reason in <c>error</c>).</summary>
    private static void WriteCsv(TextWriter output, IReadOnlyList<string> classes, List<string> files, (ImagePrediction? Prediction, string? Error)[] results)
    {
        output.WriteLine(string.Join(',', new[] { "image", "label", "probability", "error" }.Concat(classes).Select(Field)));
        for (var i = 0; i < files.Count; i++)
        {
            var row = new StringBuilder(Field(files[i]));
            if (results[i].Prediction is { } p)
            {
                row.Append(',').Append(Field(p.Label)).Append(',').Append(p.Probability.ToString("R", CultureInfo.InvariantCulture)).Append(',');
                foreach (var c in p.Probabilities)
                    row.Append(',').Append(c.Probability.ToString("R", CultureInfo.InvariantCulture));
            }
            else
            {
                row.Append(",,,").Append(Field(results[i].Error!)).Append(',', classes.Count);
            }
            output.WriteLine(row);
        }
    }

    private static string Field(string value) =>
        value.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + value.Replace("\"", "\"\"") + "\"" : value;
}
