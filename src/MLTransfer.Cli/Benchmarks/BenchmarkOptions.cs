using MLTransfer.Training;

namespace MLTransfer.Cli.Benchmarks;

/// <summary>What <see cref="Benchmark.Run"/> measures and how long it spends on each figure.</summary>
public sealed record BenchmarkOptions
{
    /// <summary>The dataset (folder or manifest) every figure is measured on.</summary>
    public required string DataPath { get; init; }
    /// <summary>
    /// Backbone choice and training settings of the train/retrain figures (backbone, folders, catalog,
    /// preprocessing overrides, head, seed). The workspace is always a fresh temporary folder.
    /// </summary>
    public TransferLearningOptions Training { get; init; } = new();
    /// <summary>Images per ONNX Runtime call in the end-to-end extraction.</summary>
    public int BatchSize { get; init; } = 8;
    /// <summary>Batch sizes of the raw backbone forward figure.</summary>
    public IReadOnlyList<int> ForwardBatchSizes { get; init; } = [1, 8, 32];
    /// <summary>Minimum wall time spent on each throughput figure (forward rates, decode rates).</summary>
    public TimeSpan MinMeasureTime { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>Images decoded for the decode figures (read into memory first, so disk is not measured).</summary>
    public int DecodeSamples { get; init; } = 100;
    /// <summary>Single-image predictions timed for the latency percentiles.</summary>
    public int PredictSamples { get; init; } = 100;
    /// <summary>
    /// When above 0, writes this many augmented copies of <see cref="SyntheticSources"/> to a temporary folder
    /// and reports cold extraction rate and peak memory on one copy and on all of them.
    /// </summary>
    public int SyntheticCopies { get; init; }
    /// <summary>Datasets copied for <see cref="SyntheticCopies"/>; empty means <see cref="DataPath"/>.</summary>
    public IReadOnlyList<string> SyntheticSources { get; init; } = [];
    /// <summary>Also trains on a random-weight copy of the backbone and reports both accuracies.</summary>
    public bool CompareRandom { get; init; }
    /// <summary>Folder for temporary workspaces, models and images; null means a new temporary folder (deleted afterwards).</summary>
    public string? WorkDirectory { get; init; }
    /// <summary>Receives one line per phase.</summary>
    public Action<string>? Log { get; init; }
}
