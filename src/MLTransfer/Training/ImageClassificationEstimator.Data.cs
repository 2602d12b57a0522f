using Microsoft.ML;
using Microsoft.ML.Data;
using MLTransfer.Evaluation;
using MLTransfer.Features;
using MLTransfer.Heads;

namespace MLTransfer.Training;

public sealed partial class ImageClassificationEstimator
{
    private sealed record Row(ImageSource Source, int Label);

    private static (IReadOnlyList<string> ClassNames, IReadOnlyList<Row> Rows, List<string> Skipped, bool IsBytes) ReadRows(IDataView data, Options o, string what)
    {
        var labelCol = data.Schema.GetColumnOrNull(o.LabelColumnName)
            ?? throw new MLTransferException($"The {what} has no label column '{o.LabelColumnName}'", o.LabelColumnName, "Set LabelColumnName to the key-typed label column");
        if (labelCol.Type is not KeyDataViewType keyType || keyType.RawType != typeof(uint))
            throw new MLTransferException($"Label column '{o.LabelColumnName}' is {labelCol.Type}, not a key", o.LabelColumnName,
                "Convert it with mlContext.Transforms.Conversion.MapValueToKey");
        var imageCol = data.Schema.GetColumnOrNull(o.FeatureColumnName)
            ?? throw new MLTransferException($"The {what} has no image column '{o.FeatureColumnName}'", o.FeatureColumnName, "Set FeatureColumnName to the image path or bytes column");
        var isBytes = imageCol.Type is VectorDataViewType { ItemType: var item } && item == NumberDataViewType.Byte;
        if (!isBytes && imageCol.Type is not TextDataViewType)
            throw new MLTransferException($"Image column '{o.FeatureColumnName}' is {imageCol.Type}; expected a path (text) or raw bytes", o.FeatureColumnName,
                "Pass image paths, or load bytes with mlContext.Transforms.LoadRawImageBytes");

        var count = (int)keyType.Count;
        IReadOnlyList<string> classNames;
        if (labelCol.HasKeyValues() && labelCol.Annotations.Schema["KeyValues"].Type is VectorDataViewType { ItemType: TextDataViewType })
        {
            VBuffer<ReadOnlyMemory<char>> values = default;
            labelCol.GetKeyValues(ref values);
            classNames = values.DenseValues().Select(v => v.ToString()).ToList();
        }
        else
        {
            classNames = Enumerable.Range(1, count).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        }

        var rows = new List<Row>();
        var skipped = new List<string>();
        using var cursor = data.GetRowCursor([labelCol, imageCol]);
        var label = cursor.GetGetter<uint>(labelCol);
        ValueGetter<ReadOnlyMemory<char>>? path = isBytes ? null : cursor.GetGetter<ReadOnlyMemory<char>>(imageCol);
        ValueGetter<VBuffer<byte>>? bytes = isBytes ? cursor.GetGetter<VBuffer<byte>>(imageCol) : null;
        uint key = 0;
        ReadOnlyMemory<char> text = default;
        VBuffer<byte> buffer = default;
        var position = 0;
        while (cursor.MoveNext())
        {
            position++;
            label(ref key);
            ImageSource source;
            if (path is not null)
            {
                path(ref text);
                var p = text.ToString();
                source = ImageSource.File(o.ImageFolder is null ? p : Path.Combine(o.ImageFolder, p));
            }
            else
            {
                bytes!(ref buffer);
                source = ImageSource.Encoded(buffer.DenseValues().ToArray(), $"{what} row {position}");
            }
            if (key == 0)
            {
                skipped.Add($"{source.Name}: missing label");
                continue;
            }
            rows.Add(new Row(source, (int)key - 1));
        }
        return (classNames, rows, skipped, isBytes);
    }

    /// <summary>Indices into <paramref name="all"/> of the training and validation examples.</summary>
    private static (List<int> Train, List<int> Validation) StratifiedSplit(HeadExamples all, int classes, float fraction, int seed)
    {
        if (fraction <= 0)
            return (Enumerable.Range(0, all.Count).ToList(), []);
        var random = new Random(seed);
        var train = new List<int>();
        var validation = new List<int>();
        for (var c = 0; c < classes; c++)
        {
            var members = Enumerable.Range(0, all.Count).Where(i => all.Labels[i] == c).ToArray();
            random.Shuffle(members);
            // Every class keeps at least one training example; a class with one image cannot be validated.
            var take = members.Length < 2 ? 0 : Math.Clamp((int)Math.Round(fraction * members.Length), 1, members.Length - 1);
            validation.AddRange(members[..take]);
            train.AddRange(members[take..]);
        }
        train.Sort();
        validation.Sort();
        return (train, validation);
    }

    private static float[] BalancedWeights(HeadExamples train, int classes)
    {
        var counts = new int[classes];
        foreach (var l in train.Labels)
            counts[l]++;
        var present = counts.Count(c => c > 0);
        // n / (classes · count): weights average to 1 over examples, so the learning rate keeps its meaning.
        return counts.Select(c => c == 0 ? 1f : (float)train.Count / (present * c)).ToArray();
    }

    /// <summary>Lower is better: the best validation loss, or minus the best validation accuracy.</summary>
    private static double Score(HeadTrainingResult result, EarlyStoppingCriteria? stop)
    {
        var best = result.History[result.BestEpoch - 1];
        return stop?.Metric == EarlyStoppingMetric.Accuracy
            ? -(best.ValidationAccuracy ?? 0) + 1e-6 * (best.ValidationLoss ?? 0)
            : best.ValidationLoss ?? best.TrainLoss;
    }

    private static MetricsSummary CrossValidate(HeadExamples all, IReadOnlyList<string> classNames, int folds, HeadTrainingOptions options, int seed)
    {
        var random = new Random(seed);
        var fold = new int[all.Count];
        for (var c = 0; c < classNames.Count; c++)
        {
            var members = Enumerable.Range(0, all.Count).Where(i => all.Labels[i] == c).ToArray();
            random.Shuffle(members);
            for (var j = 0; j < members.Length; j++)
                fold[members[j]] = j % folds;
        }
        var runs = new List<ClassificationMetrics>();
        for (var f = 0; f < folds; f++)
        {
            var test = all.Subset(Enumerable.Range(0, all.Count).Where(i => fold[i] == f));
            var train = all.Subset(Enumerable.Range(0, all.Count).Where(i => fold[i] != f));
            if (test.Count == 0 || train.Count == 0)
                continue;
            var head = NeuralHeadTrainer.Train(train, classNames.Count, null, options);
            runs.Add(MetricsCalculator.Compute(classNames, test.Labels, test.Features.Select(x => head.Network.Predict(x)).ToList()));
        }
        return MetricsCalculator.Summarise(runs);
    }
}
