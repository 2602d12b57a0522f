using MLTransfer.Backbones;
using MLTransfer.Backbones.Store;
using MLTransfer.Data;
using MLTransfer.Evaluation;
using MLTransfer.Export;

namespace MLTransfer.Training;

/// <summary>
/// The parts of a run's report and model metadata that every trainer computes the same way (plain
/// training and fine-tuning), so both describe their models identically.
/// </summary>
internal static class RunSummary
{
    /// <summary>What the model said about one held-out image, from its score vector.</summary>
    public static ImageOutcome Outcome(LabeledImage image, float[] scores, IReadOnlyList<string> classes, IReadOnlyDictionary<string, int> classIndex)
    {
        var best = 0;
        for (var k = 1; k < scores.Length; k++)
            if (scores[k] > scores[best])
                best = k;
        return new ImageOutcome(image.Path, image.Label, classes[best], scores[best], scores[classIndex[image.Label]]);
    }

    /// <summary>
    /// Classes that have no usable image in the validation or test set (when that set exists): all of theirs
    /// were skipped as unusable, or a given split has none. Scores on that set then say nothing about them,
    /// which averaged metrics would otherwise hide.
    /// </summary>
    /// <param name="split">The split as planned, before unusable files were skipped.</param>
    /// <param name="validation">The usable validation images.</param>
    /// <param name="test">The usable test images.</param>
    public static List<string> EmptySetWarnings(SplitDataset split, IReadOnlyList<LabeledImage> validation, IReadOnlyList<LabeledImage> test)
    {
        var warnings = new List<string>();
        Check("validation", split.Validation, validation);
        Check("test", split.Test, test);
        return warnings;

        void Check(string name, IReadOnlyList<LabeledImage> planned, IReadOnlyList<LabeledImage> usable)
        {
            if (planned.Count == 0)
                return;
            foreach (var label in split.ClassNames)
            {
                if (usable.Any(i => i.Label == label))
                    continue;
                var had = planned.Count(i => i.Label == label);
                if (had > 0)
                    warnings.Add($"Class '{label}' has no usable {name} images: all {had} of them were skipped as unusable (see the skipped files), " +
                                 $"so the {name} scores say nothing about it; fix or replace those files.");
                // A computed split gives every class a share; only duplicates can empty one, and the splitter says so.
                else if (split.IsGivenSplit)
                    warnings.Add($"Class '{label}' has no {name} images in the given split, so the {name} scores say nothing about it; add {name} images for it.");
            }
        }
    }

    /// <summary>Images per class and split.</summary>
    public static List<ClassSplitCounts> Counts(IReadOnlyList<string> classes, IReadOnlyList<LabeledImage> train, IReadOnlyList<LabeledImage> validation, IReadOnlyList<LabeledImage> test) =>
        classes.Select(c => new ClassSplitCounts(c, train.Count(i => i.Label == c), validation.Count(i => i.Label == c), test.Count(i => i.Label == c))).ToList();

    /// <summary>Metadata saved with a model.</summary>
    public static ModelMetadata Metadata(IReadOnlyList<string> classes, PreparedBackbone backbone, ResolvedBackbone resolved, string reason, string head,
        int seed, string dataPath, IReadOnlyList<ClassSplitCounts> counts, int skipped, RunEvaluation evaluation) => new()
        {
            ClassNames = classes,
            Backbone = backbone.Description,
            BackboneSha256 = resolved.Sha256,
            BackboneReason = reason,
            FeatureSize = backbone.FeatureSize,
            Head = head,
            Seed = seed,
            DataSource = Path.GetFullPath(dataPath),
            DatasetCounts = new Dictionary<string, IReadOnlyDictionary<string, int>>
            {
                ["train"] = counts.ToDictionary(c => c.Label, c => c.Train),
                ["validation"] = counts.ToDictionary(c => c.Label, c => c.Validation),
                ["test"] = counts.ToDictionary(c => c.Label, c => c.Test),
            },
            SkippedFiles = skipped,
            Metrics = Headline(evaluation),
        };

    private static Dictionary<string, IReadOnlyDictionary<string, double>> Headline(RunEvaluation evaluation)
    {
        var result = new Dictionary<string, IReadOnlyDictionary<string, double>>();
        foreach (var (name, m) in new[] { ("train", evaluation.Train), ("validation", evaluation.Validation), ("test", evaluation.Test) })
            if (m is not null)
                result[name] = new Dictionary<string, double> { ["accuracy"] = m.Accuracy, ["macroAccuracy"] = m.MacroAccuracy, ["logLoss"] = m.LogLoss };
        // The held-out set's calibration error, before and after temperature scaling.
        if (evaluation.Confidence is { } c && result.TryGetValue(c.MeasuredOn, out var heldOut))
            result[c.MeasuredOn] = new Dictionary<string, double>(heldOut)
            {
                ["expectedCalibrationError"] = c.After.ExpectedCalibrationError,
                ["expectedCalibrationErrorUncalibrated"] = c.Before.ExpectedCalibrationError,
            };
        return result;
    }
}
