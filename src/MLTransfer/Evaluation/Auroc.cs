namespace MLTransfer.Evaluation;

/// <summary>Area under the ROC curve of a score meant to be higher for one group than for another.</summary>
internal static class Auroc
{
    /// <summary>
    /// The probability that a random <paramref name="positives"/> score exceeds a random <paramref name="negatives"/>
    /// score, ties counting half (the Mann–Whitney statistic): 1 separates perfectly, 0.5 is chance.
    /// </summary>
    /// <exception cref="ArgumentException">Either group is empty.</exception>
    public static double Compute(IReadOnlyList<double> negatives, IReadOnlyList<double> positives)
    {
        if (negatives.Count == 0 || positives.Count == 0)
            throw new ArgumentException("AUROC needs scores in both groups.");
        var all = negatives.Select(s => (Score: s, Positive: false)).Concat(positives.Select(s => (Score: s, Positive: true))).OrderBy(x => x.Score).ToArray();
        // Mid-ranks of ties, then the rank sum of the positives.
        double rankSum = 0;
        for (var i = 0; i < all.Length;)
        {
            var j = i;
            while (j + 1 < all.Length && all[j + 1].Score == all[i].Score)
                j++;
            var midRank = (i + j) / 2.0 + 1;
            for (var k = i; k <= j; k++)
                if (all[k].Positive)
                    rankSum += midRank;
            i = j + 1;
        }
        var (n, p) = ((double)negatives.Count, (double)positives.Count);
        return (rankSum - p * (p + 1) / 2) / (n * p);
    }
}
