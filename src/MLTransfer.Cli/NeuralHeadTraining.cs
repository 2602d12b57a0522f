using System.CommandLine;
using System.Globalization;
using Microsoft.ML;
using MLTransfer.Data;
using MLTransfer.Evaluation;
using MLTransfer.Export;
using MLTransfer.Images;
using MLTransfer.Inference;
using MLTransfer.Training;

namespace MLTransfer.Cli;

/// <summary>
/// <c>train --head softmax|mlp</c>: the TransferImageClassification estimator's heads (Adam, epochs, early
/// stopping, dropout, augmentation) on the same split <c>train</c> makes, saved as the estimator's zip (which
/// every command takes), and scored on the test split through <see cref="ImageClassifier"/>.
/// </summary>
internal sealed class NeuralHeadTraining
{
    private sealed class Row
    {
        public string ImagePath { get; set; } = "";
        public string Label { get; set; } = "";
    }

    public Option<int> Epochs { get; } = new Option<int>("--epochs") { Description = "softmax/mlp heads: most passes over the training images (early stopping usually ends sooner)", DefaultValueFactory = _ => 100 }.Range(1, 100_000);
    public Option<string> Hidden { get; } = new("--hidden") { Description = "mlp head: hidden layer widths, comma-separated", DefaultValueFactory = _ => "256" };
    public Option<float> LearningRate { get; } = new Option<float>("--learning-rate") { Description = "softmax/mlp heads: Adam's learning rate", DefaultValueFactory = _ => 1e-3f }.Positive();
    public Option<float> Dropout { get; } = new Option<float>("--dropout") { Description = "mlp head: dropout on hidden units", DefaultValueFactory = _ => 0.2f }.NonNegative();
    public Option<string?> Augment { get; } = new("--augment") { Description = "softmax/mlp heads: training views per image, e.g. flip, crops=4 or flip,crops=4 (cached like the images' features)" };

    public IEnumerable<Option> All => [Epochs, Hidden, LearningRate, Dropout, Augment];

    /// <summary>True for the heads this class trains.</summary>
    public static bool Handles(string head) => head is "softmax" or "mlp";

    public int Run(ParseResult parse, RunOptions run, TransferLearningOptions options, string head, string outputPath, bool asJson)
    {
        var data = parse.GetValue(run.Data)!;
        var log = options.Log ?? (_ => { });
        var dataset = DatasetLoader.Load(data);
        var (hashes, unreadable) = ContentHasher.HashAll(dataset.Images.Select(i => i.Path).ToList(), Cancellation.Token);
        var gone = unreadable.Select(u => u.Path).ToHashSet(PathUtil.Comparer);
        dataset = dataset with { Images = dataset.Images.Where(i => !gone.Contains(i.Path)).ToList() };
        var split = DatasetSplitter.Split(dataset, new SplitOptions(options.ValidationFraction, options.TestFraction, options.Seed), p => hashes[p]);
        static List<Row> Rows(IEnumerable<LabeledImage> images) => images.Select(i => new Row { ImagePath = Path.GetFullPath(i.Path), Label = i.Label }).ToList();

        var ml = new MLContext(options.Seed);
        var train = ml.Data.LoadFromEnumerable(Rows(split.Train));
        var labels = ml.Transforms.Conversion.MapValueToKey("Label", keyOrdinality: Microsoft.ML.Transforms.ValueToKeyMappingEstimator.KeyOrdinality.ByValue).Fit(train);
        var estimator = ml.MulticlassClassification.Trainers.TransferImageClassification(new ImageClassificationEstimator.Options
        {
            FeatureColumnName = "ImagePath",
            Backbone = options.Backbone,
            HiddenLayers = head == "mlp" ? Widths(parse.GetValue(Hidden)!) : [],
            Dropout = parse.GetValue(Dropout),
            Epoch = parse.GetValue(Epochs),
            LearningRate = parse.GetValue(LearningRate),
            Augmentation = Augmentation(parse.GetValue(Augment)),
            L2Regularization = options.L2Regularization,
            BalanceClasses = options.BalanceClasses,
            Seed = options.Seed,
            ValidationSet = split.Validation.Count > 0 ? labels.Transform(ml.Data.LoadFromEnumerable(Rows(split.Validation))) : null,
            ValidationSetFraction = 0,
            Cache = options.Cache,
            Extraction = options.Extraction,
            Log = log,
        });
        var keyed = labels.Transform(train);
        using var fitted = estimator.Fit(keyed);
        var model = labels.Append<ITransformer>(fitted).Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel").Fit(fitted.Transform(keyed)));
        OutputGuard.Check(outputPath, OutputKind.ModelZip, [.. OutputGuard.InputsOf(data), run.Backbone.ExplicitFile(parse)], parse.GetValue(run.Force));
        ProcessTemp.WriteAtomically(outputPath, temp => ml.Model.Save(model, train.Schema, temp));
        var summary = fitted.Summary;

        using var classifier = ImageClassifier.Load(outputPath);
        var test = split.Test.Count > 0 ? Score(classifier, split.Test) : null;
        if (asJson)
        {
            CommandRunner.WriteJson(new { model = Path.GetFullPath(outputPath), head = classifier.Metadata.Head, metadata = classifier.Metadata, validation = summary.Validation, test, bestEpoch = summary.BestEpoch, epochsRun = summary.History.Count, augmentedViews = summary.AugmentedExamples });
            return ExitCodes.Success;
        }
        Console.WriteLine($"Backbone: {summary.Backbone}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Head: {classifier.Metadata.Head}; best epoch {summary.BestEpoch} of {summary.History.Count} run{(summary.StoppedEarly ? " (stopped early)" : "")}; L2 {summary.L2Regularization:G3}"));
        Console.WriteLine($"Images: {summary.TrainCount} train{(summary.AugmentedExamples > 0 ? $" (+{summary.AugmentedExamples} augmented views)" : "")}, {summary.ValidationCount} validation, {split.Test.Count} test");
        if (summary.Validation is not null)
            Console.WriteLine(MetricsTable.Format(summary.Validation, "Validation (early stopping and L2 chosen on it)"));
        if (test is not null)
            Console.WriteLine(MetricsTable.Format(test, "Test (never used for training or model selection)"));
        Console.WriteLine($"Model: {Path.GetFullPath(outputPath)}");
        return ExitCodes.Success;
    }

    private static ClassificationMetrics Score(ImageClassifier classifier, IReadOnlyList<LabeledImage> images)
    {
        var index = classifier.ClassNames.Select((c, i) => (c, i)).ToDictionary(p => p.c, p => p.i, StringComparer.Ordinal);
        var scores = new float[images.Count][];
        Parallel.For(0, images.Count, new ParallelOptions { CancellationToken = Cancellation.Token }, i =>
        {
            try
            {
                scores[i] = classifier.Predict(images[i].Path, 1).Probabilities.Select(p => p.Probability).ToArray();
            }
            catch (ImageDecodeException)
            {
                // Left out, as training left it out.
            }
        });
        var used = Enumerable.Range(0, images.Count).Where(i => scores[i] is not null).ToList();
        return MetricsCalculator.Compute(classifier.ClassNames, used.Select(i => index[images[i].Label]).ToList(), used.Select(i => scores[i]).ToList());
    }

    private static int[] Widths(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0 || !parts.All(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out var w) && w is >= 1 and <= 65_536))
            throw new MLTransferException($"--hidden needs comma-separated layer widths from 1 to 65536, got '{text}'", null, "Example: --hidden 256 or --hidden 512,128");
        return parts.Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();
    }

    private static ImageAugmentation? Augmentation(string? text)
    {
        if (text is null)
            return null;
        var flip = false;
        var crops = 0;
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (part == "flip")
                flip = true;
            else if (part.StartsWith("crops=", StringComparison.Ordinal) && int.TryParse(part[6..], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= 64)
                crops = n;
            else
                throw new MLTransferException($"--augment does not know '{part}'", null, "Use flip, crops=N (1 to 64), or both: --augment flip,crops=4");
        }
        return new ImageAugmentation { HorizontalFlip = flip, RandomResizedCrops = crops };
    }
}
