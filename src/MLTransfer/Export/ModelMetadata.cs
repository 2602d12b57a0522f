using MLTransfer.Backbones;
using MLTransfer.Confidence;

namespace MLTransfer.Export;

/// <summary>
/// Facts that travel inside a model zip (entry <c>MLTransfer/metadata.json</c>): what the model predicts,
/// how images must be prepared for it, what it was trained from and how well it did.
/// </summary>
public sealed record ModelMetadata
{
    /// <summary>Version of this metadata layout; a reader refuses versions newer than it knows.</summary>
    public int FormatVersion { get; init; } = ModelPackage.ImageInputFormatVersion;
    /// <summary>Version of MLTransfer that wrote the model.</summary>
    public string LibraryVersion { get; init; } = typeof(ModelMetadata).Assembly.GetName().Version?.ToString() ?? "0";
    /// <summary>When the model was trained (UTC).</summary>
    public DateTimeOffset CreatedUtc { get; init; } = DateTimeOffset.UtcNow;
    /// <summary>Class names, in the order of the model's score vector.</summary>
    public required IReadOnlyList<string> ClassNames { get; init; }
    /// <summary>The backbone description (name, checksum, input size, resize mode, normalisation).</summary>
    public required BackboneDescription Backbone { get; init; }
    /// <summary>SHA-256 of the backbone file actually used.</summary>
    public required string BackboneSha256 { get; init; }
    /// <summary>Why this backbone was used (explicit, default choice and where it was found).</summary>
    public string? BackboneReason { get; init; }
    /// <summary>Width of the feature vector.</summary>
    public int FeatureSize { get; init; }
    /// <summary>The head trainer.</summary>
    public string Head { get; init; } = "";
    /// <summary>Random seed of the split and the trainer.</summary>
    public int Seed { get; init; }
    /// <summary>Where the data came from (as given by the user).</summary>
    public string? DataSource { get; init; }
    /// <summary>Images per split and class: <c>counts[split][class]</c>.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, int>> DatasetCounts { get; init; } = new Dictionary<string, IReadOnlyDictionary<string, int>>();
    /// <summary>Number of files skipped because they could not be used.</summary>
    public int SkippedFiles { get; init; }
    /// <summary>Headline metrics per split (e.g. <c>test</c> → accuracy), for quick display.</summary>
    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>> Metrics { get; init; } = new Dictionary<string, IReadOnlyDictionary<string, double>>();
    /// <summary>
    /// The probability temperature and out-of-domain threshold, fitted on images the head did not train on; null
    /// for models written before calibration existed (their probabilities are the head's own, and nothing is
    /// judged out of domain).
    /// </summary>
    public ConfidenceCalibration? Calibration { get; init; }
    /// <summary>
    /// What the saved chain takes: a decoded image (<c>train</c>, <c>finetune</c>) or, for a TransferImageClassification
    /// pipeline, the image column it was fitted on (paths or bytes), named by <see cref="InputColumn"/>.
    /// </summary>
    public ModelInputKind InputKind { get; init; } = ModelInputKind.Image;
    /// <summary>Name of the chain's input column (<c>Image</c> for <c>train</c> zips).</summary>
    public string InputColumn { get; init; } = ModelPipeline.ImageColumn;
    /// <summary>Name of the chain's class-probabilities column.</summary>
    public string ScoreColumn { get; init; } = "Score";
}
