using MLTransfer.Data;
using MLTransfer.Evaluation;

namespace MLTransfer.Reporting;

/// <summary>Everything an HTML report shows. Built from a training run or from evaluating a saved model.</summary>
internal sealed record ReportContent
{
    /// <summary>Page title.</summary>
    public required string Title { get; init; }
    /// <summary>Where the images came from.</summary>
    public string? DataSource { get; init; }
    /// <summary>Class names in score order.</summary>
    public required IReadOnlyList<string> ClassNames { get; init; }
    /// <summary>Images per class and split (empty when evaluating a saved model).</summary>
    public IReadOnlyList<ClassSplitCounts> Counts { get; init; } = [];
    /// <summary>Files left out, with reasons.</summary>
    public IReadOnlyList<SkippedFile> Skipped { get; init; } = [];
    /// <summary>Groups of identical files.</summary>
    public IReadOnlyList<DuplicateGroup> Duplicates { get; init; } = [];
    /// <summary>Warnings of the run.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];
    /// <summary>Backbone and options, as label → value rows.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Settings { get; init; } = [];
    /// <summary>Metrics per evaluated set, e.g. "Validation" and "Test".</summary>
    public required IReadOnlyList<KeyValuePair<string, ClassificationMetrics>> Metrics { get; init; }
    /// <summary>Metrics on the training images (a row of the metrics table), or null when not known.</summary>
    public ClassificationMetrics? Train { get; init; }
    /// <summary>Per-epoch curves, empty for trainers without epochs.</summary>
    public IReadOnlyList<EpochRecord> Epochs { get; init; } = [];
    /// <summary>What the second curve of <see cref="Epochs"/> is measured on.</summary>
    public string EpochsHeldName { get; init; } = "validation";
    /// <summary>A sentence under the curves (what they show, which epoch was kept).</summary>
    public string? EpochsNote { get; init; }
    /// <summary>Calibration, out-of-domain threshold and coverage/accuracy, or null for a model without calibration.</summary>
    public ConfidenceReport? Confidence { get; init; }
    /// <summary>Occlusion maps of the worst misclassified held-out images (empty when no model was at hand to compute them).</summary>
    public IReadOnlyList<OcclusionMap> Occlusions { get; init; } = [];
    /// <summary>Predictions on the held-out set; the worst errors become the gallery.</summary>
    public IReadOnlyList<ImageOutcome> HeldOut { get; init; } = [];
    /// <summary>Name of the held-out set the gallery comes from.</summary>
    public string HeldOutName { get; init; } = "Test";
}
