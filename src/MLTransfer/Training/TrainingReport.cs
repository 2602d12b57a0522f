using MLTransfer.Data;
using MLTransfer.Evaluation;

namespace MLTransfer.Training;

/// <summary>What a training run did and how well the model does on data it never trained on.</summary>
public sealed record TrainingReport
{
    /// <summary>Class names in score order.</summary>
    public required IReadOnlyList<string> ClassNames { get; init; }
    /// <summary>Images per class and split, after unusable files were removed.</summary>
    public required IReadOnlyList<ClassSplitCounts> Counts { get; init; }
    /// <summary>True when the data folder gave the split (train/val[/test] folders or a manifest column).</summary>
    public bool GivenSplit { get; init; }
    /// <summary>True when there is no test split and the validation split is the held-out set reported.</summary>
    public bool ValidationIsHeldOut { get; init; }
    /// <summary>Files left out, at discovery or at decoding, with reasons.</summary>
    public required IReadOnlyList<SkippedFile> Skipped { get; init; }
    /// <summary>Groups of byte-identical files (kept in one split so they cannot leak into the test score).</summary>
    public IReadOnlyList<DuplicateGroup> Duplicates { get; init; } = [];
    /// <summary>Warnings that did not stop the run.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];
    /// <summary>Every backbone a selection considered, with its score and cost; empty when one backbone was named.</summary>
    public IReadOnlyList<BackboneCandidate> BackboneCandidates { get; init; } = [];
    /// <summary>Backbone name.</summary>
    public required string Backbone { get; init; }
    /// <summary>Why that backbone, and where its file was found.</summary>
    public required string BackboneReason { get; init; }
    /// <summary>Metrics on the training split: how well the head fits the images it learned from (compare with validation to see over-fitting).</summary>
    public ClassificationMetrics? Train { get; init; }
    /// <summary>Metrics on the validation split, or null when it is empty.</summary>
    public ClassificationMetrics? Validation { get; init; }
    /// <summary>Metrics on the test split, or null when it is empty.</summary>
    public ClassificationMetrics? Test { get; init; }
    /// <summary>Per-image predictions on the held-out set (test, or validation when there is no test split).</summary>
    public IReadOnlyList<ImageOutcome> HeldOut { get; init; } = [];
    /// <summary>Calibration (expected calibration error before and after), out-of-domain threshold and coverage/accuracy on the held-out set; null when not measured.</summary>
    public ConfidenceReport? Confidence { get; init; }
    /// <summary>Images run through the backbone.</summary>
    public int ImagesExtracted { get; init; }
    /// <summary>Images whose features came from the cache.</summary>
    public int ImagesFromCache { get; init; }
    /// <summary>Backbone throughput over the extraction (images/s, cached images excluded).</summary>
    public double ExtractionImagesPerSecond { get; init; }
    /// <summary>Time spent extracting features.</summary>
    public TimeSpan ExtractionTime { get; init; }
    /// <summary>Time spent fitting the head.</summary>
    public TimeSpan HeadTrainingTime { get; init; }
    /// <summary>Wall time of the whole run.</summary>
    public TimeSpan TotalTime { get; init; }
}
