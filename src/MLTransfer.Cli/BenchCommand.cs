using System.CommandLine;
using System.Globalization;
using MLTransfer.Cli.Benchmarks;
using MLTransfer.Features;
using MLTransfer.Training;

namespace MLTransfer.Cli;

/// <summary><c>mltransfer bench</c>: where the time goes (decode, backbone, extraction, training, predict) and peak memory.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Dataset the figures are measured on (class folders or a manifest)", Required = true };
        var batchSize = new Option<int>("--batch-size") { Description = "Images per backbone call in the extraction", DefaultValueFactory = _ => 8 }.Range(1, FeatureExtractionOptions.MaxBatchSize);
        var seconds = new Option<double>("--seconds") { Description = "Minimum seconds spent on each throughput figure", DefaultValueFactory = _ => 2.0 }.Range(0.01, 3600);
        var decodeSamples = new Option<int>("--decode-samples") { Description = "Images decoded for the decode figures", DefaultValueFactory = _ => 100 }.Range(1, 1_000_000);
        var predictSamples = new Option<int>("--predict-samples") { Description = "Single-image predictions timed", DefaultValueFactory = _ => 100 }.Range(1, 1_000_000);
        var copies = new Option<int>("--synthetic-copies") { Description = "Write N augmented copies of --synthetic-source to a temp folder and report memory and speed at 1× and N×" }.Range(0, 1000);
        var sources = new Option<string[]>("--synthetic-source") { Description = "Dataset copied by --synthetic-copies (repeatable) [default: --data]" };
        var compareRandom = new Option<bool>("--compare-random") { Description = "Also train on a random-weight copy of the backbone and compare accuracy" };
        var seed = new Option<int>("--seed") { Description = "Seed of the split, trainer, synthetic crops and random weights", DefaultValueFactory = _ => 42 }.Range(int.MinValue, int.MaxValue);
        var json = new Option<bool>("--json") { Description = "Print one JSON document instead of text" };
        var service = new Option<Uri>("--service")
        {
            Description = "Instead of the figures above, load a running prediction service at this address (e.g. http://127.0.0.1:5000) with the dataset's images",
            CustomParser = r =>
            {
                var text = r.Tokens.Count > 0 ? r.Tokens[^1].Value : "";
                if (Uri.TryCreate(text, UriKind.Absolute, out var u) && (u.Scheme == Uri.UriSchemeHttp || u.Scheme == Uri.UriSchemeHttps))
                    return new Uri(u.ToString().TrimEnd('/') + "/");
                r.AddError($"--service must be an http:// or https:// address, got '{text}'");
                return null;
            },
        };
        var serviceClients = new Option<int>("--service-clients") { Description = "Concurrent clients of --service", DefaultValueFactory = _ => 16 }.Range(1, 1024);
        var serviceRequests = new Option<int>("--service-requests") { Description = "Requests of --service measured (after a warm-up of a tenth)", DefaultValueFactory = _ => 5000 }.Range(1, 10_000_000);
        var backbone = BackboneOptions.Create();
        var command = new Command("bench", "Measure decode, backbone, extraction, training and prediction speed and peak memory on a dataset")
        {
            data, batchSize, seconds, decodeSamples, predictSamples, copies, sources, compareRandom, seed, json, service, serviceClients, serviceRequests,
        };
        backbone.AddTo(command);
        command.SetAction(parse =>
        {
            var asJson = parse.GetValue(json);
            return CommandRunner.Run(asJson, () =>
            {
                if (parse.GetValue(service) is { } address)
                {
                    var images = Data.DatasetLoader.Load(parse.GetValue(data)!).Images.Select(i => i.Path).Distinct()
                        .Take(parse.GetValue(decodeSamples)).Select(File.ReadAllBytes).ToList();
                    if (images.Count == 0)
                        throw new MLTransferException("The dataset holds no images", parse.GetValue(data), "Point --data at a folder with one sub-folder of images per class");
                    var figures = ServiceLoad.Run(address, images, parse.GetValue(serviceClients), parse.GetValue(serviceRequests), TimeSpan.FromMinutes(10));
                    if (asJson)
                        CommandRunner.WriteJson(figures);
                    else
                        Console.WriteLine($"Service {address}: {ServiceLoad.Describe(figures)}{(figures.FirstError is { } error ? $"; first failure: {error}" : "")}");
                    return figures.Failures == 0 ? ExitCodes.Success : ExitCodes.Failure;
                }
                var report = Benchmark.Run(new BenchmarkOptions
                {
                    DataPath = parse.GetValue(data)!,
                    Training = new TransferLearningOptions { Seed = parse.GetValue(seed), Backbone = backbone.Source(parse) },
                    BatchSize = parse.GetValue(batchSize),
                    MinMeasureTime = TimeSpan.FromSeconds(parse.GetValue(seconds)),
                    DecodeSamples = parse.GetValue(decodeSamples),
                    PredictSamples = parse.GetValue(predictSamples),
                    SyntheticCopies = parse.GetValue(copies),
                    SyntheticSources = parse.GetValue(sources) ?? [],
                    CompareRandom = parse.GetValue(compareRandom),
                    Log = line => Console.Error.WriteLine(line),
                });
                if (asJson)
                    CommandRunner.WriteJson(report);
                else
                    Console.WriteLine(Format(report));
                return ExitCodes.Success;
            });
        });
        return command;
    }

    private static string Format(BenchmarkReport r)
    {
        var lines = new List<FormattableString>
        {
            $"Backbone {r.Backbone} ({r.InputSize}×{r.InputSize}, {r.FeatureSize}-d), {r.DatasetImages} images, {r.Cores} cores",
            $"Decode+preprocess      {r.Decode.SingleThreadImagesPerSecond,8:F1} images/s (1 thread)   {r.Decode.ParallelImagesPerSecond,8:F1} images/s ({r.Decode.Threads} threads)",
        };
        foreach (var f in r.Forward)
            lines.Add($"Raw forward batch {f.BatchSize,-4} {f.ImagesPerSecond,8:F1} images/s ({f.MedianMillisecondsPerCall:F1} ms per call{(f.Spinning ? "; spinning threads, ORT's default" : "")})");
        var c = r.ColdExtraction;
        lines.Add($"Cold extraction        {c.ImagesPerSecond,8:F1} images/s ({c.Images} images, {c.Seconds:F2} s; {c.RatioToForward:F2} × raw forward at batch {c.BatchSize})");
        var t = r.Training;
        lines.Add($"Train cold             {t.ColdSeconds,8:F2} s ({t.ColdExtracted} extracted; accuracy {t.Accuracy:F3})");
        lines.Add($"Retrain warm cache     {t.WarmSeconds,8:F2} s ({t.WarmExtracted} extracted; head {t.HeadSeconds:F2} s)");
        var p = r.Predict;
        lines.Add($"Predict (1 image)      p50 {p.P50Milliseconds:F1} ms, p99 {p.P99Milliseconds:F1} ms (decode {p.DecodeP50Milliseconds:F1} + model {p.ModelP50Milliseconds:F1} ms; {p.RatioToForwardBatch1:F2} × fastest raw batch-1 forward)");
        foreach (var s in r.Scaling ?? [])
            lines.Add($"Synthetic ×{s.Copies,-3}         {s.ImagesPerSecond,8:F1} images/s on {s.Images} images, peak RSS {s.PeakRssBytes / 1048576.0:F0} MiB");
        lines.Add($"Peak RSS               {r.PeakRssBytes / 1048576.0,8:F0} MiB");
        if (r.RandomComparison is { } rc)
            lines.Add($"Accuracy ({rc.Split})       pretrained {rc.PretrainedAccuracy:F3} vs random weights {rc.RandomAccuracy:F3}");
        return string.Join(Environment.NewLine, lines.Select(l => l.ToString(CultureInfo.InvariantCulture)));
    }
}
