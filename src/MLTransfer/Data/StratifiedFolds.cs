namespace MLTransfer.Data;

/// <summary>Deals images into k folds with every class spread evenly, the same way for the same seed.</summary>
internal static class StratifiedFolds
{
    /// <summary>The fold of each image: per class, in a seeded shuffle of path order, dealt round-robin.</summary>
    public static int[] Assign(IReadOnlyList<LabeledImage> images, int folds, int seed)
    {
        var fold = new int[images.Count];
        var rng = new Random(seed);
        var next = 0; // continues across classes, so fold sizes differ by at most one
        foreach (var group in Enumerable.Range(0, images.Count).GroupBy(i => images[i].Label).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var members = group.OrderBy(i => images[i].Path, StringComparer.Ordinal).ToArray();
            rng.Shuffle(members);
            foreach (var i in members)
                fold[i] = next++ % folds;
        }
        return fold;
    }
}
