using MLTransfer.Backbones;
using MLTransfer.Features;
using MLTransfer.Heads;

namespace MLTransfer.Training;

/// <summary>Options of a transfer-learning run (ML.NET-style options class: every property has a sensible default).</summary>
public sealed record TransferLearningOptions
{
    /// <summary>The backbone and where it comes from; a catalog name or ONNX path converts to it (<c>Backbone = "resnet50"</c>).</summary>
    public BackboneSource Backbone { get; init; } = new();
    /// <summary>The head trainer.</summary>
    public HeadKind Head { get; init; } = HeadKind.LbfgsMaximumEntropy;
    /// <summary>L2 regularisation weight of the head, or null for the trainer's default.</summary>
    public float? L2Regularization { get; init; }
    /// <summary>L1 regularisation weight of the head, or null for the trainer's default.</summary>
    public float? L1Regularization { get; init; }
    /// <summary>
    /// Weights training examples by the inverse frequency of their class, so the head does not learn to favour
    /// the large classes of an imbalanced dataset (default false).
    /// </summary>
    public bool BalanceClasses { get; init; }
    /// <summary>Seed of the split and of the trainer.</summary>
    public int Seed { get; init; } = 42;
    /// <summary>Fraction of each class held out for validation (ignored when the data gives its split).</summary>
    public double ValidationFraction { get; init; } = 0.15;
    /// <summary>Fraction of each class held out for the final test (ignored when the data gives its split).</summary>
    public double TestFraction { get; init; } = 0.15;
    /// <summary>The bottleneck (feature) cache: workspace folder, on or off, how long to wait for another run.</summary>
    public FeatureCacheOptions Cache { get; init; } = new();
    /// <summary>Batch size, threads and progress of feature extraction.</summary>
    public FeatureExtractionOptions Extraction { get; init; } = new();
    /// <summary>Receives one line per step of the run (backbone choice, counts, timings).</summary>
    public Action<string>? Log { get; init; }

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
            : Extraction.Problem() ?? (Cache ?? new()).Problem();
        if (problem is not null)
            throw new MLTransferException($"Invalid options: {problem}", null, "Fix the option (the CLI's --help gives every range)");
    }
}
