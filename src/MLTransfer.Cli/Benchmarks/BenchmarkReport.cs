namespace MLTransfer.Cli.Benchmarks;

/// <summary>Every figure of a benchmark run. Rates are images per second; times are wall-clock.</summary>
public sealed record BenchmarkReport
{
    /// <summary>Backbone name.</summary>
    public required string Backbone { get; init; }
    /// <summary>Backbone input width and height.</summary>
    public required int InputSize { get; init; }
    /// <summary>Width of the feature vector.</summary>
    public required int FeatureSize { get; init; }
    /// <summary>Logical cores of the machine.</summary>
    public required int Cores { get; init; }
    /// <summary>Images in the dataset.</summary>
    public required int DatasetImages { get; init; }
    /// <summary>Decode + resize + pixel planes, from encoded bytes in memory.</summary>
    public required DecodeFigures Decode { get; init; }
    /// <summary>Raw ONNX Runtime forward on pre-decoded tensors, per batch size.</summary>
    public required IReadOnlyList<ForwardFigure> Forward { get; init; }
    /// <summary>Files on disk → features in a fresh cache.</summary>
    public required ExtractionFigures ColdExtraction { get; init; }
    /// <summary>Whole training runs with a cold and a warm feature cache.</summary>
    public required TrainingFigures Training { get; init; }
    /// <summary>Single-image prediction through the saved model.</summary>
    public required PredictFigures Predict { get; init; }
    /// <summary>Peak resident memory of the process over the run (VmHWM), in bytes.</summary>
    public required long PeakRssBytes { get; init; }
    /// <summary>Cold extraction on one and on all synthetic copies, or null when none were asked for.</summary>
    public IReadOnlyList<ScalingFigure>? Scaling { get; init; }
    /// <summary>Pretrained versus random-weight backbone, or null when not asked for.</summary>
    public RandomComparison? RandomComparison { get; init; }
}

/// <summary>Decode throughput.</summary>
/// <param name="Samples">Images decoded per pass.</param>
/// <param name="SingleThreadImagesPerSecond">One thread.</param>
/// <param name="ParallelImagesPerSecond">One thread per core.</param>
/// <param name="Threads">Threads of the parallel figure.</param>
public sealed record DecodeFigures(int Samples, double SingleThreadImagesPerSecond, double ParallelImagesPerSecond, int Threads);

/// <summary>Backbone forward throughput at one batch size.</summary>
/// <param name="BatchSize">Images per call.</param>
/// <param name="ImagesPerSecond">Throughput.</param>
/// <param name="MedianMillisecondsPerCall">Median time of one call.</param>
/// <param name="Spinning">
/// Measured with ONNX Runtime's default spinning worker threads (the fastest single call, and what prediction
/// uses) rather than the extraction session's blocking ones.
/// </param>
public sealed record ForwardFigure(int BatchSize, double ImagesPerSecond, double MedianMillisecondsPerCall, bool Spinning = false);

/// <summary>End-to-end cold extraction.</summary>
/// <param name="Images">Images extracted.</param>
/// <param name="Seconds">Wall time.</param>
/// <param name="ImagesPerSecond">Throughput.</param>
/// <param name="BatchSize">Images per backbone call.</param>
/// <param name="RatioToForward">Throughput divided by the raw forward rate at the same batch size (1 = decoding fully hidden).</param>
public sealed record ExtractionFigures(int Images, double Seconds, double ImagesPerSecond, int BatchSize, double RatioToForward);

/// <summary>Training runs.</summary>
/// <param name="ColdSeconds">First run, empty cache.</param>
/// <param name="ColdExtracted">Images the first run sent through the backbone.</param>
/// <param name="WarmSeconds">Second run with another seed, same cache.</param>
/// <param name="WarmExtracted">Images the second run sent through the backbone (0 when the cache works).</param>
/// <param name="HeadSeconds">Head fitting time of the warm run.</param>
/// <param name="Accuracy">Test accuracy of the cold run (validation when no test split).</param>
public sealed record TrainingFigures(double ColdSeconds, int ColdExtracted, double WarmSeconds, int WarmExtracted, double HeadSeconds, double Accuracy);

/// <summary>Single-image prediction latency.</summary>
/// <param name="Samples">Predictions timed.</param>
/// <param name="P50Milliseconds">Median of <c>ImageClassifier.Predict(path)</c>.</param>
/// <param name="P99Milliseconds">99th percentile.</param>
/// <param name="DecodeP50Milliseconds">Median of the decode step alone.</param>
/// <param name="ModelP50Milliseconds">Median of the model step alone (<c>ImageClassifier.Score</c>: pixel planes and one ONNX Runtime call on the fused graph).</param>
/// <param name="RatioToForwardBatch1">Predict median divided by the raw batch-1 forward median.</param>
public sealed record PredictFigures(int Samples, double P50Milliseconds, double P99Milliseconds, double DecodeP50Milliseconds, double ModelP50Milliseconds, double RatioToForwardBatch1);

/// <summary>Cold extraction on a synthetic set.</summary>
/// <param name="Copies">Augmented copies of the sources.</param>
/// <param name="Images">Images extracted.</param>
/// <param name="ImagesPerSecond">Throughput.</param>
/// <param name="PeakRssBytes">Peak resident memory during this extraction.</param>
public sealed record ScalingFigure(int Copies, int Images, double ImagesPerSecond, long PeakRssBytes);

/// <summary>What pretraining buys: the same head trained on both backbones' features.</summary>
/// <param name="PretrainedAccuracy">Accuracy with the pretrained backbone.</param>
/// <param name="RandomAccuracy">Accuracy with random weights.</param>
/// <param name="Split">Which split the accuracies are on.</param>
public sealed record RandomComparison(double PretrainedAccuracy, double RandomAccuracy, string Split);
