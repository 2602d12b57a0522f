using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using MLTransfer.Export;
using MLTransfer.Heads;

namespace MLTransfer.Training;

/// <summary>
/// Transfer learning with a frozen backbone: discover and split the data, resolve and prepare the backbone,
/// extract features (cached), fit the head on the training split, score validation and test, and assemble
/// the ML.NET model that is saved.
/// </summary>
public static partial class TransferLearner
{
    /// <summary>Trains a classifier on the labelled images under <paramref name="dataPath"/> (folder or manifest).</summary>
    /// <exception cref="MLTransferException">Bad data, a missing or mismatched backbone, or nothing left to train on.</exception>
    public static TrainedModel Train(string dataPath, TransferLearningOptions? options = null, CancellationToken cancellation = default)
    {
        var run = TrainingRun.Start(dataPath, options ?? new TransferLearningOptions(), cancellation);
        RunImages images;
        IReadOnlyList<BackboneCandidate> candidates = [];
        var reason = run.Resolved.Reason;
        if (run.Candidates is not null)
            (run, images, candidates, reason) = BackboneSelection.Choose(run);
        else
            images = run.Usable(run.Extract());
        var trained = FitHead(run, images, reason);
        return candidates.Count == 0 ? trained : trained.WithCandidates(candidates);
    }

    /// <summary>
    /// Fits the head on the run's training features, calibrates it, evaluates it and saves the metadata: the
    /// part of a run after extraction, the same whether the features were just extracted or read from shards.
    /// </summary>
    internal static TrainedModel FitHead(TrainingRun run, RunImages images, string reason)
    {
        var o = run.Options;
        var ml = ProcessTemp.NewMLContext(o.Seed);
        var clock = Stopwatch.StartNew();
        var head = HeadTrainer.Fit(ml, run.ClassNames, images.VectorsOf(images.Train), images.Labels(images.Train), o.Head, o.L2Regularization, o.L1Regularization, o.BalanceClasses);
        clock.Stop();
        run.Log(string.Create(CultureInfo.InvariantCulture, $"head: {o.Head} fitted on {images.Train.Count} images in {clock.Elapsed.TotalSeconds:F2} s"));

        float[][] Score(IReadOnlyList<Data.LabeledImage> set) => HeadTrainer.Score(ml, head, images.VectorsOf(set));
        var calibration = RunCalibration.Fit(run, images, images.VectorsOf, Score, (fit, held) =>
        {
            var foldMl = ProcessTemp.NewMLContext(o.Seed);
            var foldHead = HeadTrainer.Fit(foldMl, run.ClassNames, images.VectorsOf(fit), images.Labels(fit), o.Head, o.L2Regularization, o.L1Regularization, o.BalanceClasses);
            return HeadTrainer.Score(foldMl, foldHead, images.VectorsOf(held));
        });
        var evaluation = run.Evaluate(images, Score, calibration, images.VectorsOf);
        var model = ModelPipeline.FitFeaturizer(ml, run.Prepared).Append(head);
        return run.Finish(ml, model, run.Prepared, images, evaluation, o.Head.ToString(), reason, clock.Elapsed, calibration);
    }
}
