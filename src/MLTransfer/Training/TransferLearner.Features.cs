using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using MLTransfer.Data;
using MLTransfer.Export;
using MLTransfer.Heads;

namespace MLTransfer.Training;

/// <summary>Training from a feature folder (<see cref="FeatureShards.Extract"/>), without running the backbone.</summary>
public static partial class TransferLearner
{
    /// <summary>
    /// Training features up to this size are loaded and the head fitted exactly as <see cref="Train"/> fits it
    /// (L-BFGS on every core, which copies the rows into memory anyway); larger ones stream from the shards
    /// on one thread, so memory stays flat (docs/design-notes.md).
    /// </summary>
    internal static long InMemoryFeatureBytes { get; set; } = 256L << 20;

    /// <summary>
    /// Trains a classifier from the feature shards in <paramref name="featuresPath"/>: every shard is checked
    /// (present, intact, same backbone and preprocessing), the split is rebuilt from the rows as
    /// <see cref="Train"/> computes it on the images, and the saved zip carries the backbone, as
    /// <see cref="Train"/>'s does.
    /// </summary>
    /// <exception cref="MLTransferException">A missing, damaged or mixed shard, or a backbone that is not the features'.</exception>
    public static TrainedModel TrainFromFeatures(string featuresPath, TransferLearningOptions? options = null, CancellationToken cancellation = default)
    {
        var read = Stopwatch.StartNew();
        var run = TrainingRun.StartFromFeatures(featuresPath, options ?? new TransferLearningOptions(), cancellation);
        var o = run.Options;
        var store = run.Store!;
        TrainedModel trained;
        if ((long)run.Split.Train.Count * store.Width * sizeof(float) <= InMemoryFeatureBytes)
        {
            trained = FitHead(run, run.Usable(run.LoadStored()), run.Resolved.Reason);
        }
        else
        {
            var ml = ProcessTemp.NewMLContext(o.Seed);
            var clock = new Stopwatch();
            var images = run.UsableStored(read.Elapsed);
            var root = store.DatasetRoot;
            string Full(string relative) => Path.Combine(root, relative.Replace('/', Path.DirectorySeparatorChar));
            var trainSet = images.Train.Select(i => i.Path).ToHashSet(PathUtil.Comparer);
            // The rows' own keys, found once: the filter runs on every row of every pass.
            HashSet<string> KeysOf(IReadOnlySet<string> paths) => store.Rows.Select(r => r.Key.Path).Where(k => paths.Contains(Full(k))).ToHashSet(StringComparer.Ordinal);
            var trainKeys = KeysOf(trainSet);
            var classIndex = images.ClassIndex;
            run.Log(string.Create(CultureInfo.InvariantCulture,
                $"head: streaming {trainSet.Count} training rows from the shards ({(long)trainSet.Count * store.Width * sizeof(float) >> 20} MiB of features; one pass per iteration)"));
            // Calibration refits the head on folds of the training rows; streamed, that would be five more full
            // fits, so a streamed model keeps its head's own probabilities and has no out-of-domain check.
            run.Log("calibration: skipped for a streamed head (no temperature, no out-of-domain score); the probabilities are the head's own");
            clock.Start();
            var head = HeadTrainer.FitStreaming(ml, run.ClassNames,
                store.Stream(k => trainKeys.Contains(k.Path)).Select(x => (classIndex[x.Key.Label], x.Features)), store.Width, o.Head,
                o.L2Regularization, o.L1Regularization, classWeights: o.BalanceClasses ? HeadTrainer.BalancedClassWeights(images.Labels(images.Train), run.ClassNames.Count) : null);
            clock.Stop();
            // Every usable row, training ones included: the report gives the training accuracy beside the held-out one.
            var usable = KeysOf(images.Train.Concat(images.Validation).Concat(images.Test).Select(i => i.Path).ToHashSet(PathUtil.Comparer));
            var scores = new Dictionary<string, float[]>(PathUtil.Comparer);
            foreach (var batch in store.Stream(k => usable.Contains(k.Path)).Chunk(4096))
            {
                cancellation.ThrowIfCancellationRequested();
                var scored = HeadTrainer.Score(ml, head, batch.Select(b => b.Features).ToList());
                for (var i = 0; i < batch.Length; i++)
                    scores[Full(batch[i].Key.Path)] = scored[i];
            }
            var evaluation = run.Evaluate(images, set => set.Select(i => scores[i.Path]).ToArray());
            run.Log(string.Create(CultureInfo.InvariantCulture, $"head: {o.Head} fitted on {images.Train.Count} stored feature rows in {clock.Elapsed.TotalSeconds:F2} s"));
            var model = ModelPipeline.FitFeaturizer(ml, run.Prepared).Append(head);
            trained = run.Finish(ml, model, run.Prepared, images, evaluation, o.Head.ToString(), run.Resolved.Reason, clock.Elapsed);
        }
        // The feature folder is an input too: no output of this run may land in it.
        return new TrainedModel(trained.Context, trained.Model, trained.Metadata, trained.Report, [.. trained.Inputs, store.Folder]);
    }

}
