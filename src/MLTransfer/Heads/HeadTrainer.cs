using Microsoft.ML;
using Microsoft.ML.Data;

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
        var size = features[0].Length;
        var counts = new int[classNames.Count];
        foreach (var l in labels)
            counts[l]++;
        var present = counts.Count(c => c > 0);
        float WeightOf(int label) => balanceClasses ? (float)labels.Count / (present * counts[label]) : 1f;
        var rows = features.Select((f, i) => new Row { Label = classNames[labels[i]], Features = f, Weight = WeightOf(labels[i]) }).ToList();
        var data = ml.Data.LoadFromEnumerable(rows, Schema(size));
        // Keys follow the given class order, not the order labels happen to appear in the data, so the
        // score vector's layout is known without reading key metadata.
        var keyData = ml.Data.LoadFromEnumerable(classNames.Select(c => new KeyRow { Label = c }));
        var toKey = ml.Transforms.Conversion.MapValueToKey("Label", "Label", keyData: keyData).Fit(data);
        var keyed = toKey.Transform(data);
        var weight = balanceClasses ? nameof(Row.Weight) : null;
        IEstimator<ITransformer> trainer = kind switch
        {
            HeadKind.SdcaMaximumEntropy => ml.MulticlassClassification.Trainers.SdcaMaximumEntropy("Label", FeaturesColumn, weight, l2Regularization: l2, l1Regularization: l1),
            _ => ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("Label", FeaturesColumn, weight, l2Regularization: l2 ?? DefaultL2, l1Regularization: l1 ?? DefaultL1),
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
