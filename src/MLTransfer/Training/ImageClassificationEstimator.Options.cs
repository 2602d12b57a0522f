using Microsoft.ML;
using MLTransfer.Backbones;
using MLTransfer.Features;
using MLTransfer.Heads;
using MLTransfer.Images;

namespace MLTransfer.Training;

public sealed partial class ImageClassificationEstimator
{
    /// <summary>
    /// Options of <see cref="ImageClassificationEstimator"/>. Names follow ML.NET's
    /// <c>ImageClassificationTrainer.Options</c> where an equivalent exists; every option takes effect.
    /// </summary>
    public sealed record Options
    {
        /// <summary>Key-typed label column (default <c>Label</c>).</summary>
        public string LabelColumnName { get; init; } = "Label";
        /// <summary>
        /// Image column (default <c>Image</c>): text, a file path relative to <see cref="ImageFolder"/>, or raw
        /// encoded bytes from <c>LoadRawImageBytes</c>. A bytes model decodes with <see cref="ImageBytesDecoding"/>
        /// (ML.NET has no transform for it), so apps register MLTransfer's assembly before loading it.
        /// </summary>
        public string FeatureColumnName { get; init; } = "Image";
        /// <summary>Folder that relative paths in a text image column are resolved against; null for paths as given.</summary>
        public string? ImageFolder { get; init; }
        /// <summary>Output column of class probabilities (default <c>Score</c>), in label key order.</summary>
        public string ScoreColumnName { get; init; } = "Score";
        /// <summary>Output key column of the predicted class (default <c>PredictedLabel</c>), with the label's key values.</summary>
        public string PredictedLabelColumnName { get; init; } = "PredictedLabel";

        /// <summary>The backbone and where it comes from; a catalog name (<c>mobilenet-v2</c>) or ONNX path converts to it.</summary>
        public BackboneSource Backbone { get; init; } = new();

        /// <summary>Maximum number of epochs (default 100; early stopping usually ends sooner).</summary>
        public int Epoch { get; init; } = 100;
        /// <summary>Mini-batch size (default 32).</summary>
        public int BatchSize { get; init; } = 32;
        /// <summary>Base learning rate (default 1e-3 for Adam). Schedulers scale it; they never override it.</summary>
        public float LearningRate { get; init; } = 1e-3f;
        /// <summary>Learning-rate schedule (<see cref="ExponentialDecay"/>, <see cref="PolynomialDecay"/>, <see cref="CosineDecay"/>, <see cref="OneCycle"/>), or null for constant (default).</summary>
        public LearningRateScheduler? LearningRateScheduler { get; init; }
        /// <summary>Update rule (default Adam).</summary>
        public HeadOptimizer Optimizer { get; init; } = HeadOptimizer.Adam;
        /// <summary>Momentum of SGD (default 0.9).</summary>
        public float Momentum { get; init; } = 0.9f;
        /// <summary>Early stopping on the validation set, restoring the best epoch (default: loss, patience 10); null runs every epoch.</summary>
        public EarlyStoppingCriteria? EarlyStoppingCriteria { get; init; } = new();

        /// <summary>Hidden layer widths: empty (default) for a linear softmax head, e.g. <c>[256]</c> for an MLP.</summary>
        public IReadOnlyList<int> HiddenLayers { get; init; } = [];
        /// <summary>Dropout on hidden units (MLP only, default 0.2).</summary>
        public float Dropout { get; init; } = 0.2f;
        /// <summary>
        /// L2 weight, or null (default) to choose it on the validation set from <see cref="L2Candidates"/>
        /// (1e-4 when there is no validation set).
        /// </summary>
        public float? L2Regularization { get; init; }
        /// <summary>Values tried when <see cref="L2Regularization"/> is null.</summary>
        public IReadOnlyList<float> L2Candidates { get; init; } = [1e-4f, 1e-3f, 1e-2f];
        /// <summary>Loss weight per class, in label key order, or null.</summary>
        public IReadOnlyList<float>? ClassWeights { get; init; }
        /// <summary>Weights classes by inverse training frequency (ignored when <see cref="ClassWeights"/> is given).</summary>
        public bool BalanceClasses { get; init; }
        /// <summary>Seed of the validation split, initialisation, shuffling and dropout (default 42).</summary>
        public int Seed { get; init; } = 42;

        /// <summary>
        /// Training-time augmentation (mirror image, random resized crops), or null for none (default). Views are
        /// made for training examples only, never for the validation set, and each view's features are cached
        /// like the images' own. Cross-validation (<see cref="Folds"/>) uses the unaugmented features.
        /// </summary>
        public ImageAugmentation? Augmentation { get; init; }

        /// <summary>Validation data with the same columns as the training data; when null, <see cref="ValidationSetFraction"/> of the training data is held out.</summary>
        public IDataView? ValidationSet { get; init; }
        /// <summary>Fraction of each class held out for validation when <see cref="ValidationSet"/> is null (default 0.15; 0 for none).</summary>
        public float ValidationSetFraction { get; init; } = 0.15f;
        /// <summary>
        /// When ≥ 2, also runs k-fold cross-validation on the training plus validation data (same settings,
        /// the final model's epoch count) and reports mean ± std of every metric in
        /// <see cref="ImageClassificationSummary.CrossValidation"/>. Default 0 (off).
        /// </summary>
        public int Folds { get; init; }
        /// <summary>Called after every epoch of the final fit: train/validation loss and accuracy, learning rate.</summary>
        public Action<EpochMetrics>? MetricsCallback { get; init; }
        /// <summary>Receives one line per step (backbone choice, extraction, chosen L2, early stop).</summary>
        public Action<string>? Log { get; init; }

        /// <summary>The bottleneck (feature) cache: workspace, on or off (ML.NET Vision's <c>ReuseTrainSetBottleneckCachedValues</c>), lock wait.</summary>
        public FeatureCacheOptions Cache { get; init; } = new();
        /// <summary>Batch size, threads and progress of feature extraction.</summary>
        public FeatureExtractionOptions Extraction { get; init; } = new();
    }
}
