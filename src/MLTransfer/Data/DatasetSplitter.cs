using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace MLTransfer.Data;

/// <summary>
/// Divides a dataset into train, validation and test sets: deterministic, stratified by class, and keeping
/// identical files together so that a duplicate cannot leak from training into evaluation.
/// </summary>
internal static class DatasetSplitter
{
    private static readonly DatasetSplit[] FillOrder = [DatasetSplit.Test, DatasetSplit.Validation, DatasetSplit.Train];

    /// <summary>
    /// Splits a dataset. A dataset with its own split (train/val/test folders or a manifest split column) keeps
    /// it and the fractions are not used; its test set stays empty when none was given (see
    /// <see cref="SplitDataset.ValidationDoublesAsTest"/>). Otherwise each class is split on its own, in an order
    /// fixed by a SHA-256 of the seed and the file's path relative to the dataset root, so the result is the same
    /// on every machine and .NET version, and adding files moves few existing ones.
    /// </summary>
    /// <param name="dataset">The dataset from <see cref="DatasetLoader.Load"/>.</param>
    /// <param name="options">Fractions and seed; null for 0.15 / 0.15 / 42.</param>
    /// <param name="contentHash">
    /// Optional path → content hash (e.g. <see cref="ContentHasher.Sha256Of"/>). When given, identical files are
    /// reported in <see cref="SplitDataset.Duplicates"/> and, for a computed split, placed in the same split.
    /// </param>
    /// <exception cref="MLTransferException">Bad fractions, or a class too small to give every split an image.</exception>
    public static SplitDataset Split(Dataset dataset, SplitOptions? options = null, Func<string, string>? contentHash = null)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        options ??= new SplitOptions();
        options.Validate();

        var warnings = new List<string>();
        var groups = contentHash is null ? [] : FindDuplicates(dataset.Images, contentHash, warnings);

        if (dataset.HasGivenSplit)
        {
            foreach (var g in groups)
            {
                var splits = g.Paths.Select(p => SplitOf(dataset, p)).Distinct().ToList();
                if (splits.Count > 1)
                    warnings.Add($"Identical files are in more than one given split ({string.Join(", ", splits)}), " +
                                 $"so evaluation sees training data: {string.Join(", ", g.Paths)}");
            }
            return Build(dataset, dataset.Images.ToDictionary(i => i.Path, i => i.Split!.Value), true, null, groups, warnings);
        }

        CheckClassSizes(dataset, options);
        var assignment = Assign(dataset, options, groups);
        var result = Build(dataset, assignment, false, options, groups, warnings);
        foreach (var c in result.Counts)
        {
            // Only duplicates can cause this: a group is placed as a whole, so a class can run out of units.
            if (options.ValidationFraction > 0 && c.Validation == 0)
                warnings.Add($"Class '{c.Label}' has no validation images because its duplicate files had to stay together.");
            if (options.TestFraction > 0 && c.Test == 0)
                warnings.Add($"Class '{c.Label}' has no test images because its duplicate files had to stay together.");
        }
        return result;
    }

    private static DatasetSplit SplitOf(Dataset dataset, string path) =>
        dataset.Images.First(i => i.Path == path).Split!.Value;

    private static void CheckClassSizes(Dataset dataset, SplitOptions options)
    {
        var needed = 1 + (options.ValidationFraction > 0 ? 1 : 0) + (options.TestFraction > 0 ? 1 : 0);
        var parts = new List<string> { "train" };
        if (options.ValidationFraction > 0) parts.Add("validation");
        if (options.TestFraction > 0) parts.Add("test");
        var tooSmall = dataset.Images.GroupBy(i => i.Label)
            .Select(g => (Label: g.Key, Count: g.Count()))
            .Where(c => c.Count < needed)
            .OrderBy(c => c.Label, StringComparer.Ordinal)
            .ToList();
        if (tooSmall.Count == 0) return;

        var which = string.Join("; ", tooSmall.Select(c => $"class '{c.Label}' has {c.Count} image{(c.Count == 1 ? "" : "s")}"));
        throw new MLTransferException(
            $"Too few images to split: {which}; each class needs at least {needed} (one each for {string.Join(", ", parts)})",
            dataset.ManifestPath ?? dataset.Root,
            "Add images to that class, remove the class, or set the validation/test fraction to 0");
    }

    /// <summary>
    /// Images per split for a class of <paramref name="n"/> images: largest-remainder rounding keeps each count
    /// within one image of its exact share, then every split with a non-zero fraction gets at least one image
    /// (taken from train, the largest), which <see cref="CheckClassSizes"/> guarantees is possible.
    /// </summary>
    internal static Dictionary<DatasetSplit, int> Quotas(int n, SplitOptions options)
    {
        var exact = new Dictionary<DatasetSplit, double>
        {
            [DatasetSplit.Train] = n * (1 - options.ValidationFraction - options.TestFraction),
            [DatasetSplit.Validation] = n * options.ValidationFraction,
            [DatasetSplit.Test] = n * options.TestFraction,
        };
        var quota = exact.ToDictionary(e => e.Key, e => (int)Math.Floor(e.Value + 1e-9));
        var left = n - quota.Values.Sum();
        // Ties go to train first: when in doubt, more training data.
        foreach (var s in exact.Keys.OrderByDescending(s => exact[s] - quota[s]).ThenBy(s => s).Take(left))
            quota[s]++;
        foreach (var s in new[] { DatasetSplit.Validation, DatasetSplit.Test })
        {
            var fraction = s == DatasetSplit.Validation ? options.ValidationFraction : options.TestFraction;
            if (fraction > 0 && quota[s] == 0 && quota[DatasetSplit.Train] > 1)
            {
                quota[s] = 1;
                quota[DatasetSplit.Train]--;
            }
        }
        return quota;
    }

    private static Dictionary<string, DatasetSplit> Assign(Dataset dataset, SplitOptions options, IReadOnlyList<DuplicateGroup> groups)
    {
        var labelOf = dataset.Images.ToDictionary(i => i.Path, i => i.Label);
        // A unit is placed as a whole: one image, or all copies of one content.
        var grouped = groups.SelectMany(g => g.Paths).ToHashSet();
        var units = groups.Select(g => g.Paths.ToList())
            .Concat(dataset.Images.Where(i => !grouped.Contains(i.Path)).Select(i => new List<string> { i.Path }))
            .Select(paths =>
            {
                var relative = paths.Select(p => PathUtil.PortableRelative(dataset.Root, p)).Min(StringComparer.Ordinal)!;
                var home = paths.Select(p => labelOf[p]).Min(StringComparer.Ordinal)!;
                return (Paths: paths, Home: home, Relative: relative, Key: OrderKey(options.Seed, relative));
            })
            .ToList();

        var assignment = new Dictionary<string, DatasetSplit>();
        var counts = dataset.ClassNames.ToDictionary(c => c, _ => new Dictionary<DatasetSplit, int>
        {
            [DatasetSplit.Train] = 0,
            [DatasetSplit.Validation] = 0,
            [DatasetSplit.Test] = 0,
        });
        var sizes = dataset.Images.GroupBy(i => i.Label).ToDictionary(g => g.Key, g => g.Count());

        // Classes in order, and a unit belongs to its smallest label, so copies filed under a later class are
        // already counted when that class's turn comes and its quotas absorb them.
        foreach (var label in dataset.ClassNames)
        {
            var quota = Quotas(sizes.GetValueOrDefault(label), options);
            var count = counts[label];
            foreach (var unit in units.Where(u => u.Home == label).OrderBy(u => u.Key).ThenBy(u => u.Relative, StringComparer.Ordinal))
            {
                var own = unit.Paths.Count(p => labelOf[p] == label);
                // Fill test, then validation, then train; a group too big for the space left goes where most is left.
                var split = FillOrder.Cast<DatasetSplit?>().FirstOrDefault(s => count[s!.Value] + own <= quota[s.Value])
                            ?? FillOrder.OrderByDescending(s => quota[s] - count[s]).ThenByDescending(s => s).First();
                foreach (var path in unit.Paths)
                {
                    assignment[path] = split;
                    counts[labelOf[path]][split]++;
                }
            }
        }
        return assignment;
    }

    /// <summary>Position of a file in its class's shuffled order: the first 8 bytes of SHA-256("seed\npath").</summary>
    private static ulong OrderKey(int seed, string relativePath)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes($"{seed}\n{relativePath}"), hash);
        return BinaryPrimitives.ReadUInt64BigEndian(hash);
    }

    private static List<DuplicateGroup> FindDuplicates(IReadOnlyList<LabeledImage> images, Func<string, string> contentHash, List<string> warnings)
    {
        var groups = images
            .GroupBy(i => contentHash(i.Path), StringComparer.OrdinalIgnoreCase)
            .Where(g => g.Count() > 1)
            .Select(g =>
            {
                var members = g.OrderBy(i => i.Path, StringComparer.Ordinal).ToList();
                return new DuplicateGroup(g.Key, members.Select(i => i.Path).ToList(), members.Select(i => i.Label).ToList());
            })
            .OrderBy(g => g.Paths[0], StringComparer.Ordinal)
            .ToList();
        foreach (var g in groups.Where(g => g.HasConflictingLabels))
            warnings.Add($"Identical files have different labels ({string.Join(", ", g.Labels.Distinct(StringComparer.Ordinal))}): " +
                         string.Join(", ", g.Paths));
        return groups;
    }

    private static SplitDataset Build(Dataset dataset, Dictionary<string, DatasetSplit> assignment, bool given,
        SplitOptions? options, List<DuplicateGroup> groups, List<string> warnings)
    {
        List<LabeledImage> Of(DatasetSplit s) => dataset.Images
            .Where(i => assignment[i.Path] == s)
            .Select(i => i with { Split = s })
            .OrderBy(i => i.Label, StringComparer.Ordinal).ThenBy(i => i.Path, StringComparer.Ordinal)
            .ToList();
        var train = Of(DatasetSplit.Train);
        var validation = Of(DatasetSplit.Validation);
        var test = Of(DatasetSplit.Test);
        var counts = dataset.ClassNames
            .Select(c => new ClassSplitCounts(c, train.Count(i => i.Label == c), validation.Count(i => i.Label == c), test.Count(i => i.Label == c)))
            .ToList();
        return new SplitDataset
        {
            Train = train,
            Validation = validation,
            Test = test,
            ClassNames = dataset.ClassNames,
            Counts = counts,
            IsGivenSplit = given,
            Options = options,
            Duplicates = groups.Select(g => g with { Splits = g.Paths.Select(p => assignment[p]).ToList() }).ToList(),
            Warnings = warnings,
        };
    }
}
