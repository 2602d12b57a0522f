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
        var images = run.Usable(run.Extract(run.Prepared));
        var o = run.Options;

        var ml = ProcessTemp.NewMLContext(o.Seed);
        var clock = Stopwatch.StartNew();
        var head = HeadTrainer.Fit(ml, run.ClassNames, images.VectorsOf(images.Train), images.Labels(images.Train), o.Head, o.L2Regularization, o.L1Regularization);
        clock.Stop();
        run.Log(string.Create(CultureInfo.InvariantCulture, $"head: {o.Head} fitted on {images.Train.Count} images in {clock.Elapsed.TotalSeconds:F2} s"));

        var evaluation = run.Evaluate(images, set => HeadTrainer.Score(ml, head, images.VectorsOf(set)));
        var model = ModelPipeline.FitFeaturizer(ml, run.Prepared).Append(head);
        return run.Finish(ml, model, run.Prepared, images, evaluation, o.Head.ToString(), run.Resolved.Reason, clock.Elapsed);
    }
}
