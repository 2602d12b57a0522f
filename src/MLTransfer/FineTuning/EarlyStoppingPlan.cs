using System.Globalization;
using MLTransfer.Data;
using MLTransfer.Training;

namespace MLTransfer.FineTuning;

/// <summary>
/// What early stopping looks at, which must never be the reported held-out set. With a validation split that
/// is not the held-out set, that split. Otherwise the choice is made inside the training images: by k-fold
/// cross-validation when every class has enough images (each training image is scored once, out of fold,
/// so the choice rests on all of them rather than on a carved share, where one image moves the score by
/// points and the curve is flat), or else by a carved stratified share.
/// </summary>
/// <param name="Lanes">The data of each lane: one, or one per fold.</param>
/// <param name="Folds">Number of folds, or 0 when a single lane is scored on a set aside.</param>
/// <param name="Name">Describes the early-stopping set for the report.</param>
/// <param name="FitImages">Images the saved backbone is trained on.</param>
/// <param name="SelectionImages">Images early stopping scores.</param>
internal sealed record EarlyStoppingPlan(IReadOnlyList<EarlyStoppingLaneData> Lanes, int Folds, string Name, int FitImages, int SelectionImages)
{
    public static EarlyStoppingPlan For(TrainingRun run, RunImages images, FineTuningOptions options)
    {
        var (train, validation) = (images.Train, images.Validation);
        var seed = run.Options.Seed;
        var heldOutIsValidation = images.Test.Count == 0;
        var folds = validation.Count > 0 && !heldOutIsValidation ? 0
            : Math.Min(options.SelectionFolds, train.GroupBy(i => i.Label).Min(g => g.Count()));
        EarlyStoppingLaneData Lane(IReadOnlyList<LabeledImage> fit, IReadOnlyList<LabeledImage> selection) =>
            new(images.VectorsOf(fit), images.Labels(fit), images.VectorsOf(selection), images.Labels(selection));
        var why = heldOutIsValidation ? " (the validation split is the held-out set)" : " (there is no validation split)";
        if (folds >= 2)
        {
            var fold = StratifiedFolds.Assign(train, folds, seed);
            var lanes = Enumerable.Range(0, folds).Select(f => Lane(
                train.Where((_, i) => fold[i] != f).ToList(),
                train.Where((_, i) => fold[i] == f).ToList())).ToList();
            var name = $"{folds}-fold cross-validation on the training images" + why;
            run.Log($"early stopping on {name}: the epoch count is chosen on all {train.Count} training images scored out of fold, then the backbone is retrained on all of them");
            return new EarlyStoppingPlan(lanes, folds, name, train.Count, train.Count);
        }
        var (fitSet, selectionSet, setName) = validation.Count > 0 && !heldOutIsValidation
            ? (train, validation, "the validation split")
            : Carve(run, train, options.SelectionFraction, seed, why);
        run.Log($"early stopping on {setName} ({selectionSet.Count} images); training on {fitSet.Count} images");
        return new EarlyStoppingPlan([Lane(fitSet, selectionSet)], 0, setName, fitSet.Count, selectionSet.Count);
    }

    /// <summary>A stratified share of the training images, carved with the project's splitter.</summary>
    private static (IReadOnlyList<LabeledImage> Fit, IReadOnlyList<LabeledImage> Selection, string Name) Carve(TrainingRun run, IReadOnlyList<LabeledImage> train,
        double fraction, int seed, string why)
    {
        var trainOnly = new Dataset
        {
            Root = run.Dataset.Root,
            Layout = DatasetLayout.ClassFolders,
            ClassNames = run.Dataset.ClassNames.Where(c => train.Any(i => i.Label == c)).ToList(),
            Images = train.Select(i => new LabeledImage(i.Path, i.Label)).ToList(),
        };
        var carved = DatasetSplitter.Split(trainOnly, new SplitOptions(fraction, 0, seed));
        var selected = carved.Validation.Select(i => i.Path).ToHashSet(StringComparer.Ordinal);
        return (train.Where(i => !selected.Contains(i.Path)).ToList(), train.Where(i => selected.Contains(i.Path)).ToList(),
            (fraction * 100).ToString("0.#", CultureInfo.InvariantCulture) + "% of the training images" + why);
    }
}
