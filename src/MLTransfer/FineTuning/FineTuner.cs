using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using MLTransfer.Data;
using MLTransfer.Evaluation;
using MLTransfer.Export;
using MLTransfer.Heads;
using MLTransfer.Training;

namespace MLTransfer.FineTuning;

/// <summary>
/// Fine-tuning beyond the head: the last layers of the backbone are trained together with a softmax head,
/// then written back into the ONNX graph, so the result is an ordinary prepared backbone plus head.
/// </summary>
/// <remarks>
/// <para>A phase of the same run <see cref="TransferLearner"/> makes (<see cref="TrainingRun"/>): cut the
/// backbone (<see cref="BackboneCut"/>); run the frozen part once per image and cache the cut activations
/// (the bottleneck cache moved down the network, so epochs never touch pixels); choose what early stopping
/// looks at (<see cref="EarlyStoppingPlan"/>); train the top layers and a softmax head together
/// (<see cref="JointTraining"/>).</para>
/// <para>The saved head is then refitted with the configured ML.NET trainer on the fine-tuned features:
/// ML.NET cannot load hand-made linear weights, and the refit keeps the saved chain (ONNX backbone →
/// stock ML.NET head) exactly as <see cref="TransferLearner"/> builds it. The frozen baseline is scored
/// with the same trainer on the same split, so the two numbers compare only the backbone.</para>
/// </remarks>
public static class FineTuner
{
    /// <summary>Fine-tunes on the labelled images under <paramref name="dataPath"/> (folder or manifest).</summary>
    /// <exception cref="MLTransferException">Bad data, a missing backbone, or a backbone whose top cannot be trained.</exception>
    public static FineTuningResult Run(string dataPath, FineTuningOptions? options = null, CancellationToken cancellation = default)
    {
        options ??= new FineTuningOptions();
        Validate(options);
        var run = TrainingRun.Start(dataPath, options.Transfer, cancellation);
        if (run.Candidates is not null || run.Backbone.Spec.IsComposite)
            throw new MLTransferException($"Fine-tuning trains the top of one backbone; '{run.Backbone.Spec}' is {(run.Candidates is not null ? "a choice among several" : "a combination of backbones")}",
                options.Transfer.Backbone?.Name, "Name one backbone in TransferLearningOptions.Backbone (CLI: --backbone, e.g. resnet50), or use train for selections and combinations");
        var t = run.Options;
        var cut = BackboneCut.Of(run.Prepared, options.Unfreeze, run.Resolved.FilePath, run.Log);
        var images = run.Usable(run.Extract(cut.FrozenPart, run.Resolved.Sha256, cut.Plan.CutTensor));
        var classes = run.ClassNames;
        var ml = ProcessTemp.NewMLContext(t.Seed);
        // The trained top layers run in the managed engine, the costly step: each image's features are computed once
        // per state of the network (pretrained, then fine-tuned) and reused by the head fit, calibration and evaluation.
        var cache = new Dictionary<string, float[]>(PathUtil.Comparer);
        List<float[]> Features(IReadOnlyList<LabeledImage> set)
        {
            var missing = set.Where(i => !cache.ContainsKey(i.Path)).DistinctBy(i => i.Path, PathUtil.Comparer).ToList();
            if (missing.Count > 0)
                foreach (var (image, features) in missing.Zip(cut.Features(images.VectorsOf(missing))))
                    cache[image.Path] = features;
            return set.Select(i => cache[i.Path]).ToList();
        }
        float[][] Score(ITransformer head, IReadOnlyList<LabeledImage> set) => HeadTrainer.Score(ml, head, Features(set));
        ITransformer FitHead() => HeadTrainer.Fit(ml, classes, Features(images.Train), images.Labels(images.Train), t.Head, t.L2Regularization, t.L1Regularization, t.BalanceClasses);

        // The frozen baseline: the same features the head-only path sees, the same head trainer, the same split.
        var frozenHead = FitHead();
        var frozen = run.Evaluate(images, set => Score(frozenHead, set));
        run.Log(string.Create(CultureInfo.InvariantCulture, $"frozen backbone + {t.Head}: validation {Format(frozen.Validation)}, test {Format(frozen.Test)}"));

        var plan = EarlyStoppingPlan.For(run, images, options);
        var all = new EarlyStoppingLaneData(images.VectorsOf(images.Train), images.Labels(images.Train), [], []);
        var joint = JointTraining.Run(cut, plan, all, classes.Count, run.Prepared.FeatureSize, options, t.Seed, run.Log, cancellation);

        // The saved head: the configured ML.NET trainer refitted on the fine-tuned features of all training images.
        cache.Clear();
        var headClock = Stopwatch.StartNew();
        var finalHead = FitHead();
        headClock.Stop();
        var calibration = RunCalibration.Fit(run, images, Features, set => Score(finalHead, set), (fit, held) =>
        {
            // The backbone was tuned on every training image, so these out-of-fold scores are somewhat optimistic.
            var foldMl = ProcessTemp.NewMLContext(t.Seed);
            var foldHead = HeadTrainer.Fit(foldMl, classes, Features(fit), images.Labels(fit), t.Head, t.L2Regularization, t.L1Regularization, t.BalanceClasses);
            return HeadTrainer.Score(foldMl, foldHead, Features(held));
        });
        var tunedScores = run.Evaluate(images, set => Score(finalHead, set), calibration, Features);
        run.Log(string.Create(CultureInfo.InvariantCulture, $"fine-tuned backbone + {t.Head}: validation {Format(tunedScores.Validation)}, test {Format(tunedScores.Test)}"));

        var note = string.Create(CultureInfo.InvariantCulture,
            $"fine-tuned by MLTransfer: {cut.Plan}; best epoch {joint.BestEpoch} of {joint.Epochs.Count - 1}; learning rate {options.LearningRate} (backbone ×{options.BackboneLearningRateFactor})");
        var tuned = run.Prepared with { OnnxBytes = OnnxBlock.WriteBack(run.Prepared.OnnxBytes, cut.Network, note, run.Resolved.FilePath) };
        var model = run.Finish(ml, ModelPipeline.FitFeaturizer(ml, tuned).Append(finalHead), tuned, images, tunedScores,
            $"{t.Head} on a fine-tuned backbone ({cut.Plan.ConvLayers} conv layers above '{cut.Plan.CutTensor}' retrained)",
            $"{run.Resolved.Reason}; fine-tuned ({cut.Plan})", headClock.Elapsed, calibration);
        var report = new FineTuningReport
        {
            Cut = cut.Plan,
            TrainableParameters = cut.TrainableWeights,
            Epochs = joint.Epochs,
            BestEpoch = joint.BestEpoch,
            KeptFrozenBackbone = joint.BestEpoch == 0,
            SelectionFolds = plan.Folds,
            StoppedEarly = joint.StoppedEarly,
            SelectionSet = plan.Name,
            FitImages = plan.FitImages,
            SelectionImages = plan.SelectionImages,
            FrozenValidation = frozen.Validation,
            FrozenTest = frozen.Test,
            FineTunedValidation = tunedScores.Validation,
            FineTunedTest = tunedScores.Test,
            CutExtractionTime = images.Extraction.Elapsed,
            HeadWarmupTime = joint.WarmupTime,
            FineTuningTime = joint.TuningTime,
        };
        return new FineTuningResult(model, report, tuned, cut, finalHead);
    }

    private static void Validate(FineTuningOptions o)
    {
        string? problem = null;
        if (o.MaxEpochs < 0) problem = "MaxEpochs must not be negative";
        else if (o.BatchSize < 1) problem = "BatchSize must be at least 1";
        else if (o.Patience < 1) problem = "Patience must be at least 1";
        else if (!(o.LearningRate > 0) || !float.IsFinite(o.LearningRate)) problem = "LearningRate must be a positive number";
        else if (!(o.BackboneLearningRateFactor >= 0) || !float.IsFinite(o.BackboneLearningRateFactor)) problem = "BackboneLearningRateFactor must be 0 or more";
        else if (o.HeadWarmupSteps < 0) problem = "HeadWarmupSteps must not be negative";
        else if (o.SelectionFolds < 0) problem = "SelectionFolds must not be negative";
        else if (!(o.SelectionFraction > 0 && o.SelectionFraction < 1)) problem = "SelectionFraction must be between 0 and 1";
        if (problem is not null)
            throw new MLTransferException($"Invalid fine-tuning options: {problem}", null, "Fix the option");
    }

    private static string Format(ClassificationMetrics? m) => m is null ? "—" : m.Accuracy.ToString("F4", CultureInfo.InvariantCulture);
}
