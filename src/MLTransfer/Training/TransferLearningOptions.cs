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

    /// <summary>Throws on the first setting out of range, naming it, before any work is done.</summary>
    /// <exception cref="MLTransferException">A setting is out of range, or the workspace is a file.</exception>
    internal void Validate()
    {
        static bool Fraction(double f) => f >= 0 && f < 1;
        var problem =
            !Fraction(ValidationFraction) ? $"ValidationFraction must be at least 0 and below 1, not {ValidationFraction}"
            : !Fraction(TestFraction) ? $"TestFraction must be at least 0 and below 1, not {TestFraction}"
            : ValidationFraction + TestFraction >= 1 ? "ValidationFraction + TestFraction must leave some images for training"
            : L2Regularization is { } l2 && !(float.IsFinite(l2) && l2 >= 0) ? $"L2Regularization must be a number of 0 or more, not {l2}"
            : L1Regularization is { } l1 && !(float.IsFinite(l1) && l1 >= 0) ? $"L1Regularization must be a number of 0 or more, not {l1}"
            : Extraction.Problem();
        if (problem is not null)
            throw new MLTransferException($"Invalid options: {problem}", null, "Fix the option (see 'mltransfer train --help' for the ranges)");
        if (UseFeatureCache && File.Exists(ResolvedWorkspace))
            throw new MLTransferException("The workspace path is a file, not a folder", ResolvedWorkspace,
                "Pass a folder to --workspace (WorkspacePath), or --no-cache to run without the feature cache");
    }
}
