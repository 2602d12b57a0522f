using MLTransfer.Backbones;
using MLTransfer.Features;
using MLTransfer.Images;

namespace MLTransfer.Training;

/// <summary>Options of a transfer-learning run (ML.NET-style options class: every property has a sensible default).</summary>
public sealed record TransferLearningOptions
{
    /// <summary>Backbone: a catalog name (<c>mobilenet-v2</c>), a path to an ONNX file, or null for the default choice.</summary>
    public string? Backbone { get; init; }
    /// <summary>
    /// Adjusts the resolved backbone description before use, e.g. preprocessing flags for a custom ONNX file
    /// (<c>d => d with { Mean = [0.5f, 0.5f, 0.5f], Std = [0.5f, 0.5f, 0.5f] }</c>).
    /// </summary>
    public Func<BackboneDescription, BackboneDescription>? AdjustBackbone { get; init; }
    /// <summary>A user catalog JSON file with extra backbone records, or null for the default location.</summary>
    public string? CatalogPath { get; init; }
    /// <summary>Extra offline folders searched for backbone files (besides <c>MLTRANSFER_BACKBONE_DIR</c>).</summary>
    public IReadOnlyList<string> BackboneDirs { get; init; } = [];
    /// <summary>Whether a missing backbone may be downloaded.</summary>
    public bool AllowDownload { get; init; } = true;
    /// <summary>The head trainer.</summary>
    public HeadKind Head { get; init; } = HeadKind.LbfgsMaximumEntropy;
    /// <summary>L2 regularisation weight of the head, or null for the trainer's default.</summary>
    public float? L2Regularization { get; init; }
    /// <summary>L1 regularisation weight of the head, or null for the trainer's default.</summary>
    public float? L1Regularization { get; init; }
    /// <summary>Seed of the split and of the trainer.</summary>
    public int Seed { get; init; } = 42;
    /// <summary>Fraction of each class held out for validation (ignored when the data gives its split).</summary>
    public double ValidationFraction { get; init; } = 0.15;
    /// <summary>Fraction of each class held out for the final test (ignored when the data gives its split).</summary>
    public double TestFraction { get; init; } = 0.15;
    /// <summary>
    /// Workspace folder for the bottleneck (feature) cache; null means the user cache folder
    /// (<c>~/.cache/mltransfer/workspace</c>).
    /// </summary>
    public string? WorkspacePath { get; init; }
    /// <summary>Whether cached features may be reused and new ones stored (ML.NET Vision's <c>ReuseTrainSetBottleneckCachedValues</c>).</summary>
    public bool UseFeatureCache { get; init; } = true;
    /// <summary>Batch size, threads and progress of feature extraction.</summary>
    public FeatureExtractionOptions Extraction { get; init; } = new();
    /// <summary>Receives one line per step of the run (backbone choice, counts, timings).</summary>
    public Action<string>? Log { get; init; }

    /// <summary>The workspace folder actually used.</summary>
    public string ResolvedWorkspace => WorkspacePath ?? Path.Combine(UserFolders.Cache, "workspace");
}
