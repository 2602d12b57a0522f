using MLTransfer.Data;
using MLTransfer.Evaluation;
using MLTransfer.Images;

using MLTransfer.Training;

namespace MLTransfer.Inference;

/// <summary>Scores a saved model on a labelled image folder or manifest, through the same path apps use.</summary>
public static class ModelEvaluator
{
    /// <summary>Result of evaluating a model on a dataset.</summary>
    /// <param name="Metrics">Metrics over every usable image.</param>
    /// <param name="Skipped">Files that could not be used, with reasons.</param>
    /// <param name="Outcomes">The prediction for every usable image.</param>
    public sealed record Result(ClassificationMetrics Metrics, IReadOnlyList<SkippedFile> Skipped, IReadOnlyList<ImageOutcome> Outcomes)
    {
        /// <summary>The model's (calibrated) probabilities of each outcome's image, in outcome order.</summary>
        internal IReadOnlyList<float[]> Probabilities { get; init; } = [];
        /// <summary>The true class index of each outcome's image.</summary>
        internal IReadOnlyList<int> Labels { get; init; } = [];
    }

    /// <summary>Predicts every image under <paramref name="dataPath"/> and compares with its folder's label.</summary>
    /// <exception cref="MLTransferException">The data has classes the model does not know.</exception>
    public static Result Evaluate(ImageClassifier classifier, string dataPath, IProgress<int>? progress = null)
    {
        var dataset = DatasetLoader.Load(dataPath);
        var unknown = dataset.ClassNames.Except(classifier.ClassNames, StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
            throw new MLTransferException($"The data has class(es) the model does not know: {string.Join(", ", unknown)}", dataset.Root,
                $"The model knows: {string.Join(", ", classifier.ClassNames)}; evaluate on data with those classes");
        var index = classifier.ClassNames.Select((c, i) => (c, i)).ToDictionary(t => t.c, t => t.i, StringComparer.Ordinal);
        var images = dataset.Images;
        var scores = new float[images.Count][];
        var distances = new float?[images.Count];
        var skipped = new System.Collections.Concurrent.ConcurrentBag<SkippedFile>(dataset.Skipped);
        var done = 0;
        Parallel.For(0, images.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            try
            {
                var prediction = classifier.Predict(images[i].Path, topK: 1);
                scores[i] = prediction.Probabilities.Select(p => p.Probability).ToArray();
                distances[i] = prediction.OutOfDomainScore;
            }
            catch (ImageDecodeException e)
            {
                skipped.Add(new SkippedFile(images[i].Path, e.Reason));
            }
            progress?.Report(Interlocked.Increment(ref done));
        });
        var used = Enumerable.Range(0, images.Count).Where(i => scores[i] is not null).ToList();
        if (used.Count == 0)
            throw new MLTransferException("No usable images to evaluate", dataset.Root, "Check the skipped files");
        var (labels, probabilities) = (used.Select(i => index[images[i].Label]).ToList(), used.Select(i => scores[i]).ToList());
        var metrics = MetricsCalculator.Compute(classifier.ClassNames, labels, probabilities);
        var outcomes = used.Select(i => RunSummary.Outcome(images[i], scores[i], classifier.ClassNames, index) with { OutOfDomainScore = distances[i] }).ToList();
        return new Result(metrics, skipped.OrderBy(s => s.Path, StringComparer.Ordinal).ToList(), outcomes)
        {
            Probabilities = probabilities,
            Labels = labels,
        };
    }
}
