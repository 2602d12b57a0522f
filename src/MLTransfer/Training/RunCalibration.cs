using System.Globalization;
using MLTransfer.Confidence;
using MLTransfer.Data;
using MLTransfer.Evaluation;

namespace MLTransfer.Training;

/// <summary>
/// Fits a run's <see cref="ConfidenceCalibration"/> on images the saved head did not train on, and measures it on
/// the held-out set. With a validation split that is not the reported held-out set, that split is used. Without
/// one (train/val folders and no test folder, where validation is the held-out set), the head is refitted in
/// k folds of the training images and each image is scored by the head of the folds it was left out of: the
/// held-out set stays untouched, at the cost of k extra head fits.
/// </summary>
internal static class RunCalibration
{
    /// <summary>Folds of the cross-validation used when there is no validation split to fit on.</summary>
    public const int Folds = 5;

    /// <summary>Fits the temperature, the out-of-domain reference and its threshold.</summary>
    /// <param name="run">The run (class names, seed, log).</param>
    /// <param name="images">The usable images.</param>
    /// <param name="features">The backbone features (the head's input) of a set of images.</param>
    /// <param name="score">The saved head's probabilities for a set of images.</param>
    /// <param name="scoreOutOfFold">Fits a head like the saved one on the first set, and returns its probabilities for the second.</param>
    public static ConfidenceCalibration Fit(TrainingRun run, RunImages images,
        Func<IReadOnlyList<LabeledImage>, IReadOnlyList<float[]>> features,
        Func<IReadOnlyList<LabeledImage>, float[][]> score,
        Func<IReadOnlyList<LabeledImage>, IReadOnlyList<LabeledImage>, float[][]> scoreOutOfFold)
    {
        var reference = NeighbourDistance.Fit(features(images.Train), images.Labels(images.Train));
        var target = ConfidenceFitter.DefaultTargetCoverage;
        ConfidenceCalibration calibration;
        if (images.Validation.Count > 0 && images.Test.Count > 0)
        {
            var set = images.Validation;
            var distances = features(set).Select(f => reference.Score(f)).ToList();
            calibration = ConfidenceFitter.Fit(score(set), images.Labels(set), distances, reference, target, $"the validation split ({set.Count} images)");
        }
        else
        {
            var smallest = images.Train.GroupBy(i => i.Label).Min(g => g.Count());
            var folds = Math.Min(Folds, smallest);
            var why = images.Validation.Count > 0 ? "the validation split is the reported held-out set" : "there is no validation split";
            if (folds < 2)
            {
                calibration = ConfidenceFitter.Unfitted(reference,
                    $"not fitted: {why}, and a class has {smallest} training image(s), too few to cross-validate; probabilities are the head's own and no image is judged out of domain");
            }
            else
            {
                var fold = StratifiedFolds.Assign(images.Train, folds, run.Options.Seed);
                var (probabilities, labels, distances) = (new List<float[]>(), new List<int>(), new List<float>());
                for (var f = 0; f < folds; f++)
                {
                    var fit = images.Train.Where((_, i) => fold[i] != f).ToList();
                    var held = images.Train.Where((_, i) => fold[i] == f).ToList();
                    probabilities.AddRange(scoreOutOfFold(fit, held));
                    labels.AddRange(images.Labels(held));
                    var foldReference = NeighbourDistance.Fit(features(fit), images.Labels(fit));
                    distances.AddRange(features(held).Select(x => foldReference.Score(x)));
                }
                calibration = ConfidenceFitter.Fit(probabilities, labels, distances, reference, target,
                    $"{folds}-fold cross-validation on the {images.Train.Count} training images ({why})");
            }
        }
        run.Log(string.Create(CultureInfo.InvariantCulture,
            $"calibration on {calibration.FittedOn}: temperature {calibration.Temperature:F3}, out-of-domain threshold {(calibration.OutOfDomainThreshold is { } t ? t.ToString("F4", CultureInfo.InvariantCulture) : "none")} (accepts {100 * calibration.TargetCoverage:F0}% of those images)"));
        return calibration;
    }

    /// <summary>The calibration measured on the held-out set (test, else validation), or null when that set is empty.</summary>
    /// <param name="calibration">The fitted calibration.</param>
    /// <param name="images">The usable images.</param>
    /// <param name="heldOutRaw">The saved head's uncalibrated probabilities of the held-out images.</param>
    /// <param name="heldOutCalibrated">The same at the calibrated temperature.</param>
    /// <param name="heldOutDistances">Their out-of-domain scores.</param>
    public static ConfidenceReport? Measure(ConfidenceCalibration calibration, RunImages images, float[][] heldOutRaw, float[][] heldOutCalibrated, IReadOnlyList<float> heldOutDistances)
    {
        var (set, name) = images.Test.Count > 0 ? (images.Test, "test") : (images.Validation, "validation");
        if (set.Count == 0)
            return null;
        var empty = new Reliability(0, []);
        return ConfidenceMeasurement.Measure(heldOutRaw, heldOutCalibrated, images.Labels(set), heldOutDistances, calibration.OutOfDomainThreshold, new ConfidenceReport
        {
            Before = empty,
            After = empty,
            Temperature = calibration.Temperature,
            FittedOn = calibration.FittedOn ?? "",
            OutOfDomainMethod = calibration.OutOfDomainMethod,
            TargetCoverage = calibration.TargetCoverage,
        }, name);
    }
}
