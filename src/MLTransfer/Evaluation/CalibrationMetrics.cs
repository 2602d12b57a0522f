namespace MLTransfer.Evaluation;

/// <summary>Calibration figures: expected calibration error and the reliability diagram's bins.</summary>
internal static class CalibrationMetrics
{
    /// <summary>Bins of the reliability diagram (the usual 15 of Guo et al., 2017).</summary>
    public const int DefaultBins = 15;

    /// <summary>Reliability of <paramref name="probabilities"/> against <paramref name="labels"/>.</summary>
    /// <exception cref="ArgumentException">No samples, or counts that differ.</exception>
    public static Reliability Compute(IReadOnlyList<float[]> probabilities, IReadOnlyList<int> labels, int bins = DefaultBins)
    {
        if (probabilities.Count == 0 || probabilities.Count != labels.Count)
            throw new ArgumentException($"Need labelled probabilities; got {probabilities.Count} vectors and {labels.Count} labels.", nameof(probabilities));
        var count = new int[bins];
        var confidence = new double[bins];
        var correct = new int[bins];
        for (var n = 0; n < probabilities.Count; n++)
        {
            var p = probabilities[n];
            var best = 0;
            for (var k = 1; k < p.Length; k++)
                if (p[k] > p[best])
                    best = k;
            // Upper edges inclusive: a probability of exactly 1 lands in the last bin, 0.2 in the bin ending at 0.2.
            var bin = Math.Clamp((int)Math.Ceiling(p[best] * bins) - 1, 0, bins - 1);
            count[bin]++;
            confidence[bin] += p[best];
            if (best == labels[n])
                correct[bin]++;
        }
        double ece = 0;
        var result = new ReliabilityBin[bins];
        for (var b = 0; b < bins; b++)
        {
            var meanConfidence = count[b] > 0 ? confidence[b] / count[b] : double.NaN;
            var accuracy = count[b] > 0 ? (double)correct[b] / count[b] : double.NaN;
            if (count[b] > 0)
                ece += (double)count[b] / probabilities.Count * Math.Abs(accuracy - meanConfidence);
            result[b] = new ReliabilityBin((double)b / bins, (double)(b + 1) / bins, count[b], meanConfidence, accuracy);
        }
        return new Reliability(ece, result);
    }
}
