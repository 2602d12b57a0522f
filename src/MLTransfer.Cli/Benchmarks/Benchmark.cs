using System.Diagnostics;
using System.Globalization;
using MLTransfer.Backbones;
using MLTransfer.Data;
using MLTransfer.Features;
using MLTransfer.Images;
using MLTransfer.Inference;
using MLTransfer.Training;

namespace MLTransfer.Cli.Benchmarks;

/// <summary>
/// Measures where the time of transfer learning goes on this machine: decoding, the raw backbone, the
/// overlapped extraction pipeline, cold and warm training, single-image prediction and memory.
/// </summary>
/// <remarks>
/// Each figure is measured in isolation on the same backbone, so ratios between them (extraction versus raw
/// forward, predict versus batch-1 forward) show which layer costs what. Nothing here is tuned to flatter the
/// library: caches are fresh, and the image files are read from disk as in real runs.
/// </remarks>
public static class Benchmark
{
    /// <summary>Runs the benchmark.</summary>
    /// <exception cref="MLTransferException">Bad data or an unavailable backbone.</exception>
    public static BenchmarkReport Run(BenchmarkOptions options, CancellationToken cancellation = default)
    {
        var log = options.Log ?? (_ => { });
        var ownsWork = options.WorkDirectory is null;
        var work = options.WorkDirectory ?? Directory.CreateTempSubdirectory("mltransfer-bench-").FullName;
        Directory.CreateDirectory(work);
        try
        {
            return Measure(options, work, log, cancellation);
        }
        finally
        {
            if (ownsWork)
                try { Directory.Delete(work, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static BenchmarkReport Measure(BenchmarkOptions options, string work, Action<string> log, CancellationToken cancellation)
    {
        var peak = 0L;
        void NotePeak() => peak = Math.Max(peak, PeakMemory.PeakBytes());
        var t = options.Training;
        var (resolved, prepared) = BackbonePreparation.Run(t.Backbone, _ => { }, cancellation);
        var dataset = DatasetLoader.Load(options.DataPath);
        var paths = dataset.Images.Select(i => i.Path).Distinct().ToList();
        if (paths.Count == 0)
            throw new MLTransferException("The dataset holds no images", options.DataPath, "Point --data at a folder with one sub-folder of images per class");
        log($"backbone {resolved.Description.Name}, {prepared.InputWidth}×{prepared.InputHeight}, {prepared.FeatureSize}-d; {paths.Count} images; {Environment.ProcessorCount} cores");
        if (prepared.FixedBatchSize is { } fixedBatch)
            log($"the backbone graph fixes its batch size at {fixedBatch}: every 'batch' figure below is made of calls of {fixedBatch} image(s)");

        var decode = MeasureDecode(options, prepared, paths, out var tensors, log);
        List<ForwardFigure> forward;
        // The forward figures get their own session: a batch-32 run grows ONNX Runtime's arena, which
        // would otherwise inflate the memory of the extraction measured next.
        using (var session = new BackboneSession(prepared))
            forward = options.ForwardBatchSizes.Append(options.BatchSize).Distinct()
                .Select(b => MeasureForward(session, tensors, b, options.MinMeasureTime, log)).ToList();
        // The predict ratio is taken against the fastest raw batch-1 call ONNX Runtime can make, which is
        // with its default spinning threads, not against the extraction session that gives cores to decoders.
        using (var session = new BackboneSession(prepared, allowSpinning: true))
            forward.Add(MeasureForward(session, tensors, 1, options.MinMeasureTime, log));
        ExtractionFigures cold;
        using (var session = new BackboneSession(prepared))
        {
            var extraction = ColdExtract(session, paths, Path.Combine(work, "cold-cache"), options.BatchSize, cancellation);
            var reference = ForwardRate(forward, options.BatchSize) ?? 0;
            cold = new ExtractionFigures(extraction.Extracted, extraction.Elapsed.TotalSeconds, extraction.ExtractedPerSecond, options.BatchSize,
                reference > 0 ? extraction.ExtractedPerSecond / reference : 0);
            log(F($"cold extraction: {cold.Images} images in {cold.Seconds:F2} s = {cold.ImagesPerSecond:F1} images/s ({cold.RatioToForward:F2} × raw forward at batch {cold.BatchSize})"));
        }
        NotePeak();

        var training = MeasureTraining(options, resolved.FilePath, resolved.Description, work, log, cancellation, out var modelPath, out var pretrainedAccuracy, out var split);
        NotePeak();
        var predict = MeasurePredict(options, modelPath, paths, forward.Where(f => f.BatchSize == 1).Select(f => (double?)f.MedianMillisecondsPerCall).Min(), log);
        NotePeak();

        IReadOnlyList<ScalingFigure>? scaling = null;
        if (options.SyntheticCopies > 0)
        {
            scaling = MeasureScaling(options, prepared, work, log, NotePeak, cancellation);
            NotePeak();
        }

        RandomComparison? comparison = null;
        if (options.CompareRandom)
        {
            var bytes = File.ReadAllBytes(resolved.FilePath);
            var randomFile = Path.Combine(work, "random", Path.GetFileNameWithoutExtension(resolved.FilePath) + "-random.onnx");
            Directory.CreateDirectory(Path.GetDirectoryName(randomFile)!);
            File.WriteAllBytes(randomFile, RandomBackbone.Randomize(bytes, t.Seed));
            var description = resolved.Description with { Name = resolved.Description.Name + "-random", Sha256 = null, SizeBytes = null };
            using var model = TransferLearner.Train(options.DataPath, t with
            {
                Backbone = new() { Name = randomFile, Adjust = _ => description },
                Cache = new() { WorkspacePath = Path.Combine(work, "random-workspace") },
                Extraction = new FeatureExtractionOptions { BatchSize = options.BatchSize },
                Log = null,
            }, cancellation);
            var randomAccuracy = Accuracy(model.Report, out _);
            comparison = new RandomComparison(pretrainedAccuracy, randomAccuracy, split);
            log(F($"accuracy ({split}): pretrained {pretrainedAccuracy:F3}, random weights {randomAccuracy:F3}"));
            NotePeak();
        }

        return new BenchmarkReport
        {
            Backbone = resolved.Description.Name,
            InputSize = prepared.InputWidth,
            FeatureSize = prepared.FeatureSize,
            Cores = Environment.ProcessorCount,
            DatasetImages = paths.Count,
            Decode = decode,
            Forward = forward,
            ColdExtraction = cold,
            Training = training,
            Predict = predict,
            PeakRssBytes = peak,
            Scaling = scaling,
            RandomComparison = comparison,
        };
    }

    private static DecodeFigures MeasureDecode(BenchmarkOptions options, PreparedBackbone prepared, IReadOnlyList<string> paths, out float[] tensors, Action<string> log)
    {
        var encoded = paths.Take(Math.Max(1, options.DecodeSamples)).Select(File.ReadAllBytes).ToList();
        var bgr = prepared.ChannelOrder == ChannelOrder.Bgr;
        var length = prepared.InputLength;
        void DecodeOne(byte[] bytes, Span<float> destination) =>
            ImageDecoder.Decode(bytes, prepared.InputWidth, prepared.InputHeight, prepared.Description.ResizeMode).WritePlanes(destination, bgr);

        // The forward figures need real pixels; the first images decoded double as the warm-up.
        var maxBatch = Math.Max(options.BatchSize, options.ForwardBatchSizes.DefaultIfEmpty(1).Max());
        tensors = new float[maxBatch * length];
        for (var i = 0; i < maxBatch; i++)
            DecodeOne(encoded[i % encoded.Count], tensors.AsSpan(i * length, length));

        var buffer = new float[length];
        var single = Repeat(options.MinMeasureTime, () =>
        {
            foreach (var bytes in encoded)
                DecodeOne(bytes, buffer);
            return encoded.Count;
        });
        var threads = Environment.ProcessorCount;
        var parallel = Repeat(options.MinMeasureTime, () =>
        {
            Parallel.ForEach(encoded, new ParallelOptions { MaxDegreeOfParallelism = threads }, () => new float[length],
                (bytes, _, local) => { DecodeOne(bytes, local); return local; }, _ => { });
            return encoded.Count;
        });
        log(F($"decode+preprocess: {single:F1} images/s on 1 thread, {parallel:F1} images/s on {threads}"));
        return new DecodeFigures(encoded.Count, single, parallel, threads);
    }

    /// <summary>Runs <paramref name="pass"/> (which returns images done) until the minimum time has passed; returns images/s.</summary>
    private static double Repeat(TimeSpan minimum, Func<int> pass)
    {
        var clock = Stopwatch.StartNew();
        long images = 0;
        do images += pass();
        while (clock.Elapsed < minimum);
        return images / clock.Elapsed.TotalSeconds;
    }

    private static ForwardFigure MeasureForward(BackboneSession session, float[] tensors, int batch, TimeSpan minimum, Action<string> log)
    {
        var input = tensors.AsSpan(0, batch * session.InputLength).ToArray();
        session.Run(input, batch); // warm-up: the first call allocates ORT's arenas
        var calls = new List<double>();
        var clock = Stopwatch.StartNew();
        do
        {
            var start = clock.Elapsed;
            session.Run(input, batch);
            calls.Add((clock.Elapsed - start).TotalMilliseconds);
        }
        while (clock.Elapsed < minimum || calls.Count < 3);
        var figure = new ForwardFigure(batch, calls.Count * batch / clock.Elapsed.TotalSeconds, Percentile(calls, 0.5), session.AllowSpinning);
        log(F($"raw forward batch {batch}{(figure.Spinning ? " (spinning threads)" : "")}: {figure.ImagesPerSecond:F1} images/s ({figure.MedianMillisecondsPerCall:F1} ms per call)"));
        return figure;
    }

    private static double? ForwardRate(IEnumerable<ForwardFigure> figures, int batch) => figures.FirstOrDefault(f => f.BatchSize == batch && !f.Spinning)?.ImagesPerSecond;

    private static FeatureExtractionResult ColdExtract(BackboneSession session, IReadOnlyList<string> paths, string folder, int batchSize, CancellationToken cancellation)
    {
        if (Directory.Exists(folder))
            Directory.Delete(folder, recursive: true);
        using var cache = FeatureCache.Open(Path.Combine(folder, "features.bin"), session.Backbone.FeatureSize);
        return FeatureExtractor.Extract(paths, session, cache, new FeatureExtractionOptions { BatchSize = batchSize }, cancellation);
    }

    private static TrainingFigures MeasureTraining(BenchmarkOptions options, string backboneFile, BackboneDescription description, string work, Action<string> log,
        CancellationToken cancellation, out string modelPath, out double accuracy, out string split)
    {
        var settings = options.Training with
        {
            Backbone = new() { Name = backboneFile, Adjust = _ => description },
            Cache = new() { WorkspacePath = Path.Combine(work, "workspace") },
            Extraction = new FeatureExtractionOptions { BatchSize = options.BatchSize },
            Log = null,
        };
        modelPath = Path.Combine(work, "model.zip");
        var clock = Stopwatch.StartNew();
        using (var cold = TransferLearner.Train(options.DataPath, settings, cancellation))
        {
            var coldSeconds = clock.Elapsed.TotalSeconds;
            cold.Save(modelPath);
            accuracy = Accuracy(cold.Report, out split);
            clock.Restart();
            using var warm = TransferLearner.Train(options.DataPath, settings with { Seed = settings.Seed + 1 }, cancellation);
            var figures = new TrainingFigures(coldSeconds, cold.Report.ImagesExtracted, clock.Elapsed.TotalSeconds, warm.Report.ImagesExtracted,
                warm.Report.HeadTrainingTime.TotalSeconds, accuracy);
            log(F($"train: cold {figures.ColdSeconds:F2} s ({figures.ColdExtracted} extracted), warm retrain {figures.WarmSeconds:F2} s ({figures.WarmExtracted} extracted, head {figures.HeadSeconds:F2} s); {split} accuracy {accuracy:F3}"));
            return figures;
        }
    }

    private static double Accuracy(TrainingReport report, out string split)
    {
        split = report.Test is not null ? "test" : "validation";
        return (report.Test ?? report.Validation)?.Accuracy ?? double.NaN;
    }

    private static PredictFigures MeasurePredict(BenchmarkOptions options, string modelPath, IReadOnlyList<string> paths, double? forwardBatch1Ms, Action<string> log)
    {
        using var classifier = ImageClassifier.Load(modelPath);
        var d = classifier.Metadata.Backbone;
        var samples = Enumerable.Range(0, Math.Max(1, options.PredictSamples)).Select(i => paths[i % paths.Count]).ToList();
        // Warm-up: ORT arenas, and enough calls for the JIT to replace the first-tier code of the whole path (ten
        // calls left both paths 1.5-2 x slower than their steady state).
        for (var i = 0; i < 200; i++)
        {
            var image = samples[i % samples.Count];
            classifier.Predict(image);
            classifier.Score(ImageDecoder.DecodeFile(image, d.InputWidth, d.InputHeight, d.ResizeMode));
        }
        Thread.Sleep(200);

        // Whole predictions first, then each stage on its own over the same images: interleaving the three
        // made each stage pay for the others' cache misses and ONNX Runtime's spinning threads, which
        // moved the model figure between 2.9 and 4.8 ms from run to run.
        GC.Collect();
        var total = new List<double>();
        foreach (var path in samples)
        {
            var start = Stopwatch.GetTimestamp();
            classifier.Predict(path);
            total.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        var decodeTimes = new List<double>();
        var images = new List<DecodedImage>();
        foreach (var path in samples)
        {
            var start = Stopwatch.GetTimestamp();
            images.Add(ImageDecoder.DecodeFile(path, d.InputWidth, d.InputHeight, d.ResizeMode));
            decodeTimes.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        var modelTimes = new List<double>();
        foreach (var image in images)
        {
            var start = Stopwatch.GetTimestamp();
            classifier.Score(image);
            modelTimes.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        var p50 = Percentile(total, 0.5);
        var figures = new PredictFigures(samples.Count, p50, Percentile(total, 0.99), Percentile(decodeTimes, 0.5), Percentile(modelTimes, 0.5),
            forwardBatch1Ms is > 0 ? p50 / forwardBatch1Ms.Value : 0);
        log(F($"predict: p50 {figures.P50Milliseconds:F1} ms, p99 {figures.P99Milliseconds:F1} ms (decode {figures.DecodeP50Milliseconds:F1} ms + model {figures.ModelP50Milliseconds:F1} ms; {figures.RatioToForwardBatch1:F2} × raw batch-1 forward)"));
        return figures;
    }

    private static List<ScalingFigure> MeasureScaling(BenchmarkOptions options, PreparedBackbone prepared, string work, Action<string> log, Action notePeak, CancellationToken cancellation)
    {
        var folder = Path.Combine(work, "synthetic");
        var sources = options.SyntheticSources.Count > 0 ? options.SyntheticSources : [options.DataPath];
        var clock = Stopwatch.StartNew();
        var files = SyntheticImages.Write(sources, folder, options.SyntheticCopies, options.Training.Seed);
        log(F($"synthetic: wrote {files.Count} images ({options.SyntheticCopies} copies) in {clock.Elapsed.TotalSeconds:F1} s"));
        var first = files.Where(f => Path.GetFileName(f).StartsWith(SyntheticImages.CopyPrefix(0), StringComparison.Ordinal)).ToList();
        var result = new List<ScalingFigure>();
        foreach (var (copies, set) in new[] { (1, first), (options.SyntheticCopies, files.ToList()) }.DistinctBy(s => s.Item1))
        {
            notePeak();
            GC.Collect();
            GC.WaitForPendingFinalizers();
            PeakMemory.TryResetPeak();
            using var session = new BackboneSession(prepared);
            var extraction = ColdExtract(session, set, Path.Combine(work, $"scaling-cache-{copies}"), options.BatchSize, cancellation);
            var figure = new ScalingFigure(copies, extraction.Extracted, extraction.ExtractedPerSecond, PeakMemory.PeakBytes());
            log(F($"scaling ×{copies}: {figure.Images} images at {figure.ImagesPerSecond:F1} images/s, peak RSS {figure.PeakRssBytes / 1048576.0:F0} MiB"));
            result.Add(figure);
        }
        return result;
    }

    private static double Percentile(List<double> values, double p)
    {
        if (values.Count == 0)
            return 0;
        var sorted = values.Order().ToList();
        var index = (int)Math.Ceiling(p * sorted.Count) - 1;
        return sorted[Math.Clamp(index, 0, sorted.Count - 1)];
    }

    private static string F(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
