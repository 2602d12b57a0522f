namespace MLTransfer.Confidence;

/// <summary>
/// Temperature scaling (Guo et al., 2017): one scalar <c>T</c> divides the logits before the softmax, so the
/// ranking of classes never changes and only how sure the probabilities are does. <c>T</c> is fitted by
/// minimising the negative log-likelihood of labelled probabilities that the head did not train on.
/// </summary>
/// <remarks>
/// Works on probabilities rather than logits: <c>ln p = z − logsumexp(z)</c> differs from the logits by a
/// constant per image, which the softmax ignores, so <c>softmax(ln p / T) = softmax(z / T)</c> for any head
/// that ends in a softmax, whichever trainer made it.
/// </remarks>
internal static class TemperatureScaling
{
    /// <summary>Smallest temperature fitted or accepted from a model file.</summary>
    public const double MinTemperature = 0.05;
    /// <summary>Largest temperature fitted or accepted from a model file.</summary>
    public const double MaxTemperature = 20;

    // A probability that underflowed to 0 stays (almost) 0 at any sane temperature; the floor keeps the log finite.
    private const double LogFloor = -87.0;

    /// <summary>The probabilities at temperature <paramref name="temperature"/>; a new array, summing to 1.</summary>
    public static float[] Apply(ReadOnlySpan<float> probabilities, double temperature)
    {
        var result = new float[probabilities.Length];
        if (probabilities.Length == 0)
            return result;
        var scaled = new double[probabilities.Length];
        var max = double.NegativeInfinity;
        for (var i = 0; i < probabilities.Length; i++)
        {
            scaled[i] = Log(probabilities[i]) / temperature;
            max = Math.Max(max, scaled[i]);
        }
        double sum = 0;
        for (var i = 0; i < scaled.Length; i++)
        {
            scaled[i] = Math.Exp(scaled[i] - max);
            sum += scaled[i];
        }
        for (var i = 0; i < scaled.Length; i++)
            result[i] = (float)(scaled[i] / sum);
        return result;
    }

    /// <summary>Mean negative log-likelihood of the true classes at temperature <paramref name="temperature"/>.</summary>
    public static double NegativeLogLikelihood(IReadOnlyList<float[]> probabilities, IReadOnlyList<int> labels, double temperature)
    {
        double total = 0;
        for (var n = 0; n < probabilities.Count; n++)
        {
            var p = probabilities[n];
            var max = double.NegativeInfinity;
            for (var i = 0; i < p.Length; i++)
                max = Math.Max(max, Log(p[i]) / temperature);
            double sum = 0;
            for (var i = 0; i < p.Length; i++)
                sum += Math.Exp(Log(p[i]) / temperature - max);
            total -= Log(p[labels[n]]) / temperature - max - Math.Log(sum);
        }
        return total / Math.Max(1, probabilities.Count);
    }

    /// <summary>
    /// The temperature in [<see cref="MinTemperature"/>, <see cref="MaxTemperature"/>] that minimises the
    /// negative log-likelihood of <paramref name="labels"/> under <paramref name="probabilities"/>.
    /// </summary>
    /// <remarks>
    /// The likelihood is convex in 1/T (a log-sum-exp minus a linear term), hence unimodal in ln T, so a golden-section
    /// search over ln T finds the global minimum without derivatives.
    /// </remarks>
    /// <exception cref="ArgumentException">No examples, or counts that differ.</exception>
    public static double Fit(IReadOnlyList<float[]> probabilities, IReadOnlyList<int> labels)
    {
        if (probabilities.Count == 0 || probabilities.Count != labels.Count)
            throw new ArgumentException($"Temperature scaling needs labelled probabilities; got {probabilities.Count} vectors and {labels.Count} labels.", nameof(probabilities));
        double F(double logT) => NegativeLogLikelihood(probabilities, labels, Math.Exp(logT));
        var (a, b) = (Math.Log(MinTemperature), Math.Log(MaxTemperature));
        var ratio = (Math.Sqrt(5) - 1) / 2;
        var (c, d) = (b - ratio * (b - a), a + ratio * (b - a));
        var (fc, fd) = (F(c), F(d));
        // 60 steps shrink the interval by 0.618^60 ≈ 3e-13: far below any difference that matters.
        for (var i = 0; i < 60; i++)
        {
            if (fc <= fd)
            {
                (b, d, fd) = (d, c, fc);
                c = b - ratio * (b - a);
                fc = F(c);
            }
            else
            {
                (a, c, fc) = (c, d, fd);
                d = a + ratio * (b - a);
                fd = F(d);
            }
        }
        return Math.Clamp(Math.Exp((a + b) / 2), MinTemperature, MaxTemperature);
    }

    private static double Log(float p) => p > 0 ? Math.Max(LogFloor, Math.Log(p)) : LogFloor;
}
