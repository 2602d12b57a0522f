using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using MLTransfer.Backbones;
using MLTransfer.Export;
using MLTransfer.Features;
using MLTransfer.Heads;

namespace MLTransfer.Training;

/// <summary>What <see cref="Int8Quantization.Run"/> measured: speed and held-out accuracy of the float and int8 backbones on one dataset.</summary>
/// <param name="Backbone">The backbone's name.</param>
/// <param name="CalibrationImages">Training images the ranges were calibrated on.</param>
/// <param name="FloatImagesPerSecond">Cold extraction, files → features, float.</param>
/// <param name="Int8ImagesPerSecond">The same, int8.</param>
/// <param name="FloatForwardPerSecond">Backbone alone (decoded batches of 8), float.</param>
/// <param name="Int8ForwardPerSecond">The same, int8.</param>
/// <param name="FloatValidationAccuracy">Validation accuracy of the default head on float features.</param>
/// <param name="Int8ValidationAccuracy">The same on int8 features.</param>
/// <param name="FloatTestAccuracy">Test accuracy (float), or null without a test split.</param>
/// <param name="Int8TestAccuracy">Test accuracy (int8), or null.</param>
/// <param name="Accepted">Whether int8 validation accuracy is within <see cref="Int8Quantization.MaxAccuracyDrop"/> of float's.</param>
/// <param name="OutputPath">The quantized backbone written, or null when it was refused.</param>
public sealed record Int8Check(string Backbone, int CalibrationImages, double FloatImagesPerSecond, double Int8ImagesPerSecond, double FloatForwardPerSecond,
    double Int8ForwardPerSecond, double FloatValidationAccuracy, double Int8ValidationAccuracy, double? FloatTestAccuracy, double? Int8TestAccuracy, bool Accepted,
    string? OutputPath);

/// <summary>
/// Makes an int8 copy of a backbone for a dataset and decides whether to use it: activation ranges are
/// calibrated on a few hundred of its training images, then a head is fitted on float and on int8 features
/// of the training split, and the copy is written only if its validation accuracy is within half a point of
/// float's. Extraction and training then run it with <see cref="BackboneSource.Int8Graph"/>.
/// </summary>
public static class Int8Quantization
{
    /// <summary>Largest validation-accuracy loss (0.5 point) at which the int8 copy is used.</summary>
    public const double MaxAccuracyDrop = 0.005;

    /// <summary>How long the backbone-alone rate is measured for each graph (tests shorten it).</summary>
    internal static TimeSpan ForwardMeasureTime { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Calibrates, quantizes, compares with float on <paramref name="dataPath"/>, and writes the copy to <paramref name="outputPath"/> when accepted.</summary>
    /// <exception cref="MLTransferException">Bad data or backbone, a graph that cannot be quantized, or an output that would land on an input.</exception>
    public static Int8Check Run(string dataPath, string outputPath, TransferLearningOptions? options = null, int calibrationImages = 300, bool force = false,
        CancellationToken cancellation = default)
    {
        options ??= new TransferLearningOptions();
        if (calibrationImages is < 1 or > 100_000)
            throw new MLTransferException($"calibrationImages must be from 1 to 100000, not {calibrationImages}", null, "Pass a few hundred");
        var run = TrainingRun.Start(dataPath, options, cancellation);
        if (run.Prepared.Precision is not null)
            throw new MLTransferException("The backbone given is already an int8 copy", options.Backbone.Int8Graph, "Quantize the float backbone");
        var inputs = OutputGuard.InputsOf(dataPath).Append(run.Resolved.FilePath).ToList();
        OutputGuard.Check(outputPath, OutputKind.Onnx, inputs, force);
        var log = run.Log;

        // The same images for every run with this seed, whatever the order of the file system.
        var calibration = run.Split.Train
            .OrderBy(i => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{options.Seed}\n{run.Hashes[i.Path]}"))), StringComparer.Ordinal)
            .Take(calibrationImages).Select(i => i.Path).ToList();
        var ranges = Int8Backbone.Calibrate(run.Prepared, calibration, options.Extraction.Decode, log, cancellation);
        var preprocessing = new FeatureCacheKey(run.Resolved.Sha256, run.Prepared).Preprocessing;
        var int8 = Int8Backbone.Quantize(run.Prepared, ranges, new Int8Record(run.Resolved.Sha256, preprocessing, calibration.Count, null, null));

        var floatResult = Extract(run, run.Prepared, "float", cancellation);
        var int8Result = Extract(run, int8, "int8", cancellation);
        var (floatRate, int8Rate) = ForwardRates(run, run.Prepared, int8, cancellation);
        var (floatVal, floatTest) = Accuracy(run, floatResult);
        var (int8Val, int8Test) = Accuracy(run, int8Result);
        var accepted = floatVal - int8Val <= MaxAccuracyDrop + 1e-9;
        log(string.Create(CultureInfo.InvariantCulture,
            $"int8: validation accuracy {int8Val:F4} vs float {floatVal:F4} ({(int8Val - floatVal) * 100:+0.00;-0.00} points): {(accepted ? "within" : "more than")} {MaxAccuracyDrop * 100:0.#} point"));
        string? written = null;
        if (accepted)
        {
            int8 = Int8Backbone.WithRecord(int8, new Int8Record(run.Resolved.Sha256, preprocessing, calibration.Count, floatVal, int8Val));
            ProcessTemp.WriteAtomically(outputPath, temp => File.WriteAllBytes(temp, int8.OnnxBytes));
            written = Path.GetFullPath(outputPath);
        }
        return new Int8Check(run.Resolved.Description.Name, calibration.Count, floatResult.ExtractedPerSecond, int8Result.ExtractedPerSecond, floatRate, int8Rate,
            floatVal, int8Val, floatTest, int8Test, accepted, written);
    }

    /// <summary>Cold extraction of every image: no cache, so the rate is the backbone's and the decoder's.</summary>
    private static FeatureExtractionResult Extract(TrainingRun run, PreparedBackbone graph, string name, CancellationToken cancellation)
    {
        var images = run.Split.Train.Concat(run.Split.Validation).Concat(run.Split.Test).Select(i => ImageSource.File(i.Path, run.Hashes[i.Path])).ToList();
        using var session = new BackboneSession(graph, run.Options.Extraction.InferenceThreads);
        var result = FeatureExtractor.Extract(images, session, null, run.Options.Extraction, cancellation);
        run.Log(string.Create(CultureInfo.InvariantCulture, $"{name}: {result.ExtractedPerSecond:F1} images/s extracting files"));
        return result;
    }

    /// <summary>
    /// The backbones alone on the same batch of 8, float and int8 runs alternating, so a machine whose load
    /// changes during the measurement slows both alike and their ratio holds.
    /// </summary>
    private static (double Float, double Int8) ForwardRates(TrainingRun run, PreparedBackbone floatGraph, PreparedBackbone int8Graph, CancellationToken cancellation)
    {
        using var a = new BackboneSession(floatGraph, run.Options.Extraction.InferenceThreads);
        using var b = new BackboneSession(int8Graph, run.Options.Extraction.InferenceThreads);
        var batch = new float[8 * a.InputLength];
        var rng = new Random(1);
        for (var i = 0; i < batch.Length; i++)
            batch[i] = rng.Next(256);
        a.Run(batch, 8);
        b.Run(batch, 8);
        var (timeA, timeB) = (TimeSpan.Zero, TimeSpan.Zero);
        var runs = 0;
        while (timeA + timeB < 2 * ForwardMeasureTime || runs < 2)
        {
            cancellation.ThrowIfCancellationRequested();
            var clock = Stopwatch.StartNew();
            a.Run(batch, 8);
            timeA += clock.Elapsed;
            clock.Restart();
            b.Run(batch, 8);
            timeB += clock.Elapsed;
            runs++;
        }
        var (rateA, rateB) = (8 * runs / timeA.TotalSeconds, 8 * runs / timeB.TotalSeconds);
        run.Log(string.Create(CultureInfo.InvariantCulture, $"backbone alone (batch 8, alternating): float {rateA:F1} images/s, int8 {rateB:F1} images/s ({rateB / rateA:F2}×)"));
        return (rateA, rateB);
    }

    private static (double Validation, double? Test) Accuracy(TrainingRun run, FeatureExtractionResult extraction)
    {
        var images = run.Usable(extraction);
        var o = run.Options;
        var ml = ProcessTemp.NewMLContext(o.Seed);
        var head = HeadTrainer.Fit(ml, run.ClassNames, images.VectorsOf(images.Train), images.Labels(images.Train), o.Head, o.L2Regularization, o.L1Regularization);
        var evaluation = run.Evaluate(images, set => HeadTrainer.Score(ml, head, images.VectorsOf(set)));
        var validation = evaluation.Validation ?? evaluation.Test
            ?? throw new MLTransferException("The dataset has no validation images to compare float and int8 on", run.Dataset.Root, "Use a validation fraction above 0");
        return (validation.Accuracy, evaluation.Test?.Accuracy);
    }
}
