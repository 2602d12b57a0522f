using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;

namespace MLTransfer.Heads;

/// <summary>
/// Fits the classification head on feature vectors with a standard ML.NET multiclass trainer, and scores
/// feature vectors with a fitted head. The head reads a <c>Features</c> column and writes
/// <c>Score</c> (one probability per class, in class-name order) and <c>PredictedLabel</c> (the class name).
/// </summary>
internal static class HeadTrainer
{
    /// <summary>Default L2 weight of the head, chosen on validation splits only (docs/design-notes.md).</summary>
    public const float DefaultL2 = 0.1f;
    /// <summary>Default L1 weight of the head (see <see cref="DefaultL2"/>).</summary>
    public const float DefaultL1 = 0f;

    /// <summary>Name of the feature column the head reads.</summary>
    public const string FeaturesColumn = "Features";

    private sealed class Row
    {
        public string Label { get; set; } = "";
        public float[] Features { get; set; } = [];
        public float Weight { get; set; } = 1f;
    }

    private sealed class KeyRow
    {
        public string Label { get; set; } = "";
    }

    private sealed class Scored
    {
        public float[] Score { get; set; } = [];
    }

    /// <summary>Trains a head.</summary>
    /// <param name="ml">The ML.NET context (its seed makes the fit repeatable).</param>
    /// <param name="classNames">Class names; their order is the order of the output scores.</param>
    /// <param name="features">One feature vector per training example.</param>
    /// <param name="labels">Class index of each example.</param>
    /// <param name="kind">Which trainer.</param>
    /// <param name="l2">L2 regularisation weight, or null for the trainer's default.</param>
    /// <param name="l1">L1 regularisation weight, or null for the trainer's default.</param>
    /// <param name="balanceClasses">
    /// Weights each example by the inverse frequency of its class (weights average to 1), so a small class
    /// counts as much as a large one instead of the head learning to say the majority class.
    /// </param>
    public static ITransformer Fit(MLContext ml, IReadOnlyList<string> classNames, IReadOnlyList<float[]> features, IReadOnlyList<int> labels, HeadKind kind,
        float? l2 = null, float? l1 = null, bool balanceClasses = false)
    {
        if (features.Count == 0)
            throw new MLTransferException("No training images are left to fit the head on", null, "Check the skipped-files list; every training image failed to load");
        var weights = balanceClasses ? BalancedClassWeights(labels, classNames.Count) : null;
        var rows = features.Select((f, i) => new Row { Label = classNames[labels[i]], Features = f, Weight = weights?[labels[i]] ?? 1f }).ToList();
        return Fit(ml, classNames, ml.Data.LoadFromEnumerable(rows, Schema(features[0].Length)), kind, l2, l1, balanceClasses);
    }

    /// <summary>Inverse class frequency per class, averaging 1 over the examples (1 for a class with none).</summary>
    public static float[] BalancedClassWeights(IReadOnlyList<int> labels, int classCount)
    {
        var counts = new int[classCount];
        foreach (var l in labels)
            counts[l]++;
        var present = counts.Count(c => c > 0);
        return counts.Select(c => c == 0 ? 1f : (float)labels.Count / (present * c)).ToArray();
    }

    /// <summary>
    /// Trains a head from rows that are read again on every pass instead of held in memory (feature shards).
    /// L-BFGS runs on one thread here: with more, ML.NET first copies every row into memory.
    /// </summary>
    /// <param name="ml">The ML.NET context.</param>
    /// <param name="classNames">Class names, in score order.</param>
    /// <param name="rows">Enumerates (class index, features) from the start each time it is enumerated.</param>
    /// <param name="featureSize">Width of every feature vector.</param>
    /// <param name="kind">Which trainer.</param>
    /// <param name="l2">L2 regularisation weight, or null for the default.</param>
    /// <param name="l1">L1 regularisation weight, or null for the default.</param>
    /// <param name="maxIterations">Stops L-BFGS after this many iterations (a benchmark's bound); null runs it to convergence.</param>
    /// <param name="classWeights">Weight of each class's examples (balanced classes), or null for 1.</param>
    public static ITransformer FitStreaming(MLContext ml, IReadOnlyList<string> classNames, IEnumerable<(int Label, float[] Features)> rows, int featureSize,
        HeadKind kind, float? l2 = null, float? l1 = null, int? maxIterations = null, IReadOnlyList<float>? classWeights = null)
    {
        var data = ml.Data.LoadFromEnumerable(rows.Select(r => new Row { Label = classNames[r.Label], Features = r.Features, Weight = classWeights?[r.Label] ?? 1f }), Schema(featureSize));
        return Fit(ml, classNames, data, kind, l2, l1, classWeights is not null, threads: 1, maxIterations);
    }

    private static ITransformer Fit(MLContext ml, IReadOnlyList<string> classNames, IDataView data, HeadKind kind, float? l2, float? l1, bool weighted,
        int? threads = null, int? maxIterations = null)
    {
        // Keys follow the given class order, not the order labels happen to appear in the data, so the
        // score vector's layout is known without reading key metadata.
        var keyData = ml.Data.LoadFromEnumerable(classNames.Select(c => new KeyRow { Label = c }));
        var toKey = ml.Transforms.Conversion.MapValueToKey("Label", "Label", keyData: keyData).Fit(data);
        var keyed = toKey.Transform(data);
        var weight = weighted ? nameof(Row.Weight) : null;
        IEstimator<ITransformer> trainer = kind switch
        {
            HeadKind.SdcaMaximumEntropy when threads is null => ml.MulticlassClassification.Trainers.SdcaMaximumEntropy("Label", FeaturesColumn, weight, l2Regularization: l2, l1Regularization: l1),
            HeadKind.SdcaMaximumEntropy => ml.MulticlassClassification.Trainers.SdcaMaximumEntropy(new SdcaMaximumEntropyMulticlassTrainer.Options
            {
                LabelColumnName = "Label",
                FeatureColumnName = FeaturesColumn,
                ExampleWeightColumnName = weight,
                L2Regularization = l2,
                L1Regularization = l1,
                NumberOfThreads = threads,
            }),
            _ when threads is null => ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", FeaturesColumn, weight, l2Regularization: l2 ?? DefaultL2, l1Regularization: l1 ?? DefaultL1),
            _ => ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy(new LbfgsMaximumEntropyMulticlassTrainer.Options
            {
                LabelColumnName = "Label",
                FeatureColumnName = FeaturesColumn,
                ExampleWeightColumnName = weight,
                L2Regularization = l2 ?? DefaultL2,
                L1Regularization = l1 ?? DefaultL1,
                NumberOfThreads = threads,
                MaximumNumberOfIterations = maxIterations ?? int.MaxValue,
            }),
        };
        // Unit-length features make the regularisation strength independent of the backbone's activation
        // scale (MobileNet features are 0..6, ResNet's differ), so one default suits every backbone.
        return ml.Transforms.NormalizeLpNorm(FeaturesColumn)
            .Append(trainer)
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"))
            .Fit(keyed);
    }

    /// <summary>Class probabilities for each feature vector.</summary>
    public static float[][] Score(MLContext ml, ITransformer head, IReadOnlyList<float[]> features)
    {
        if (features.Count == 0)
            return [];
        var size = features[0].Length;
        var data = ml.Data.LoadFromEnumerable(features.Select(f => new Row { Features = f }), Schema(size));
        var scored = head.Transform(data);
        return ml.Data.CreateEnumerable<Scored>(scored, reuseRowObject: false).Select(s => s.Score).ToArray();
    }

    private static SchemaDefinition Schema(int featureSize)
    {
        var schema = SchemaDefinition.Create(typeof(Row));
        // Shaped [1, F] because that is how ApplyOnnxModel types the backbone's [N, F] output, and ML.NET
        // compares vector shapes, not just sizes, when the head is chained after the backbone.
        schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, 1, featureSize);
        return schema;
    }
}
