using System.Globalization;

namespace MLTransfer.Data;

/// <summary>How to split a dataset that does not come with its own split.</summary>
/// <param name="ValidationFraction">Share of each class put in the validation set; 0 &lt;= f &lt; 1.</param>
/// <param name="TestFraction">Share of each class put in the test set; 0 &lt;= f &lt; 1, and the two together &lt; 1.</param>
/// <param name="Seed">Changes which images land in which split; the same seed always gives the same split.</param>
internal sealed record SplitOptions(double ValidationFraction = 0.15, double TestFraction = 0.15, int Seed = 42)
{
    /// <summary>Throws when a fraction is out of range or the two leave nothing to train on.</summary>
    /// <exception cref="MLTransferException">A fraction is negative, not below 1, not a number, or they sum to 1 or more.</exception>
    public void Validate()
    {
        Check(ValidationFraction, "validation");
        Check(TestFraction, "test");
        if (ValidationFraction + TestFraction >= 1)
            throw new MLTransferException(
                $"The validation fraction ({ValidationFraction.ToString(CultureInfo.InvariantCulture)}) and test fraction " +
                $"({TestFraction.ToString(CultureInfo.InvariantCulture)}) add up to 1 or more, leaving no images to train on",
                fix: "Choose fractions whose sum is below 1, e.g. 0.15 and 0.15");
    }

    private static void Check(double value, string name)
    {
        if (double.IsNaN(value) || value < 0 || value >= 1)
            throw new MLTransferException(
                $"The {name} fraction must be at least 0 and below 1, but is {value.ToString(CultureInfo.InvariantCulture)}",
                fix: $"Pass a {name} fraction such as 0.15 (or 0 for no {name} set)");
    }
}

/// <summary>Number of images of one class in each split.</summary>
public sealed record ClassSplitCounts(string Label, int Train, int Validation, int Test)
{
    /// <summary>Images of this class over all splits.</summary>
    public int Total => Train + Validation + Test;
}

/// <summary>Files with identical content (same hash), which must not end up on both sides of a split.</summary>
/// <param name="Hash">The content hash they share.</param>
/// <param name="Paths">The files, sorted ordinally.</param>
/// <param name="Labels">The label of each file, in the order of <paramref name="Paths"/>.</param>
public sealed record DuplicateGroup(string Hash, IReadOnlyList<string> Paths, IReadOnlyList<string> Labels)
{
    /// <summary>True when the same content is filed under more than one class, which usually means a labelling mistake.</summary>
    public bool HasConflictingLabels => Labels.Distinct(StringComparer.Ordinal).Skip(1).Any();

    /// <summary>
    /// The split each file landed in, in the order of <see cref="Paths"/>; empty until the group has been
    /// through <see cref="DatasetSplitter.Split"/>. One distinct value for a computed split; a given split
    /// may spread a group (and then warns).
    /// </summary>
    public IReadOnlyList<DatasetSplit> Splits { get; init; } = [];
}

/// <summary>A dataset divided into train, validation and test images.</summary>
internal sealed record SplitDataset
{
    /// <summary>Images to fit the classifier on; each has <see cref="LabeledImage.Split"/> set.</summary>
    public required IReadOnlyList<LabeledImage> Train { get; init; }
    /// <summary>Images for early stopping and model selection.</summary>
    public required IReadOnlyList<LabeledImage> Validation { get; init; }
    /// <summary>Held-out images. Empty when the dataset's own split has no test set; see <see cref="ValidationDoublesAsTest"/>.</summary>
    public required IReadOnlyList<LabeledImage> Test { get; init; }
    /// <summary>Class names, sorted ordinally, as in <see cref="Dataset.ClassNames"/>.</summary>
    public required IReadOnlyList<string> ClassNames { get; init; }
    /// <summary>Per-class image counts in each split, in <see cref="ClassNames"/> order.</summary>
    public required IReadOnlyList<ClassSplitCounts> Counts { get; init; }
    /// <summary>True when the split came with the dataset (folders or manifest column) rather than being computed.</summary>
    public bool IsGivenSplit { get; init; }
    /// <summary>The options used to compute the split, or null when it was given.</summary>
    public SplitOptions? Options { get; init; }
    /// <summary>Groups of identical files, when a content hash was supplied; each group sits in one split unless the split was given.</summary>
    public IReadOnlyList<DuplicateGroup> Duplicates { get; init; } = [];
    /// <summary>Problems worth telling the user about (conflicting labels on identical files, a split left empty for a class, ...).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>
    /// True when there is no test set but there is a validation set, so the validation set is also the set
    /// the final scores are reported on (those scores are then optimistic, since it also steered training).
    /// </summary>
    public bool ValidationDoublesAsTest => Test.Count == 0 && Validation.Count > 0;

    /// <summary>The set to report final scores on: <see cref="Test"/>, or <see cref="Validation"/> when there is no test set.</summary>
    public IReadOnlyList<LabeledImage> HeldOut => Test.Count > 0 ? Test : Validation;
}
