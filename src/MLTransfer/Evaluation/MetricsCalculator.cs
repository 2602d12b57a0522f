namespace MLTransfer.Evaluation;

/// <summary>
/// Pure functions that turn true labels and predicted class probabilities into <see cref="ClassificationMetrics"/>,
/// and aggregate several of those into a <see cref="MetricsSummary"/>.
/// </summary>
internal static class MetricsCalculator
{
    /// <summary>Largest K for which top-K accuracy is reported.</summary>
    public const int MaxTopK = 5;

    // ML.NET clamps with a float constant and a float probability; doing the same keeps LogLoss bit-compatible.
    private const float Epsilon = 1e-15f;

    /// <summary>Computes the metrics of one evaluated set.</summary>
    /// <param name="classNames">Class names; index <c>i</c> names label <c>i</c> and probability slot <c>i</c>.</param>
    /// <param name="trueLabels">True class index of each sample, in [0, classNames.Count).</param>
    /// <param name="probabilities">
    /// Per-sample class probabilities, each of length <c>classNames.Count</c>. Values must be finite; they are not
    /// required to sum to 1, but the log-loss only means something if they are probabilities.
    /// </param>
    /// <returns>The metrics. The predicted class of a sample is the arg-max of its probabilities, ties going to the lowest index.</returns>
    /// <exception cref="ArgumentNullException">An argument, a class name or a probability vector is null.</exception>
    /// <exception cref="ArgumentException">
    /// No classes or no samples, duplicate or blank class names, label and probability counts differ,
    /// a label is out of range, a probability vector has the wrong length or a non-finite value.
    /// </exception>
    public static ClassificationMetrics Compute(
        IReadOnlyList<string> classNames,
        IReadOnlyList<int> trueLabels,
        IReadOnlyList<float[]> probabilities)
    {
        Validate(classNames, trueLabels, probabilities);

        int classes = classNames.Count;
        int n = trueLabels.Count;
        int maxK = Math.Min(MaxTopK, classes - 1);

        var counts = new int[classes][];
        for (int i = 0; i < classes; i++)
            counts[i] = new int[classes];
        var topKHits = new int[maxK + 1]; // topKHits[r] = samples whose true class has rank r (1-based)
        double totalLogLoss = 0;

        for (int s = 0; s < n; s++)
        {
            int label = trueLabels[s];
            float[] p = probabilities[s];

            int predicted = 0;
            for (int c = 1; c < classes; c++)
                if (p[c] > p[predicted])
                    predicted = c;
            counts[label][predicted]++;

            // Rank as a stable descending sort would place it (ML.NET's order): classes scoring strictly higher,
            // plus equal-scoring classes with a lower index, come first.
            int rank = 1;
            for (int c = 0; c < classes; c++)
                if (p[c] > p[label] || (p[c] == p[label] && c < label))
                    rank++;
            if (rank <= maxK)
                topKHits[rank]++;

            float clamped = Math.Min(1f, Math.Max(Epsilon, p[label]));
            totalLogLoss -= Math.Log(clamped);
        }

        var support = new int[classes];
        var predictedCount = new int[classes];
        int correct = 0;
        for (int t = 0; t < classes; t++)
        {
            correct += counts[t][t];
            for (int c = 0; c < classes; c++)
            {
                support[t] += counts[t][c];
                predictedCount[c] += counts[t][c];
            }
        }

        var perClass = new ClassMetrics[classes];
        double recallSum = 0;
        int presentClasses = 0;
        for (int c = 0; c < classes; c++)
        {
            double precision = predictedCount[c] == 0 ? 0 : (double)counts[c][c] / predictedCount[c];
            double recall = support[c] == 0 ? 0 : (double)counts[c][c] / support[c];
            double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
            perClass[c] = new ClassMetrics(classNames[c], precision, recall, f1, support[c]);
            if (support[c] > 0)
            {
                recallSum += recall;
                presentClasses++;
            }
        }

        double logLoss = totalLogLoss / n;

        // The prior predicts each class with its frequency in the evaluated labels, so its log-loss is their entropy.
        double priorLogLoss = 0;
        foreach (int sup in support)
            if (sup > 0)
                priorLogLoss -= (double)sup / n * Math.Log((double)sup / n);
        double logLossReduction = priorLogLoss > 0 ? (priorLogLoss - logLoss) / priorLogLoss : double.NaN;

        var topK = new TopKAccuracyEntry[maxK];
        int cumulative = 0;
        for (int k = 1; k <= maxK; k++)
        {
            cumulative += topKHits[k];
            topK[k - 1] = new TopKAccuracyEntry(k, (double)cumulative / n);
        }

        return new ClassificationMetrics(
            Count: n,
            Accuracy: (double)correct / n,
            MacroAccuracy: recallSum / presentClasses,
            LogLoss: logLoss,
            LogLossReduction: logLossReduction,
            TopKAccuracy: topK,
            PerClass: perClass,
            ConfusionMatrix: new ConfusionMatrix(classNames.ToArray(), counts));
    }

    /// <summary>
    /// Mean and sample standard deviation of every scalar metric over several evaluations
    /// (k-fold cross-validation folds, or training runs with different seeds).
    /// </summary>
    /// <param name="runs">The evaluations; at least one.</param>
    /// <returns>
    /// The summary. Top-K accuracy is summarised for each K that every run reports, since runs with different class
    /// counts report different K ranges.
    /// </returns>
    /// <exception cref="ArgumentNullException"><paramref name="runs"/> or one of its items is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="runs"/> is empty.</exception>
    public static MetricsSummary Summarise(IReadOnlyList<ClassificationMetrics> runs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        if (runs.Count == 0)
            throw new ArgumentException("At least one set of metrics is needed to summarise.", nameof(runs));
        for (int i = 0; i < runs.Count; i++)
            if (runs[i] is null)
                throw new ArgumentNullException(nameof(runs), $"Metrics at index {i} is null.");

        var commonK = runs
            .Select(r => r.TopKAccuracy.Select(e => e.K))
            .Aggregate((a, b) => a.Intersect(b))
            .Order()
            .ToArray();

        return new MetricsSummary(
            Runs: runs.Count,
            Accuracy: MeanAndStd(runs.Select(r => r.Accuracy)),
            MacroAccuracy: MeanAndStd(runs.Select(r => r.MacroAccuracy)),
            LogLoss: MeanAndStd(runs.Select(r => r.LogLoss)),
            LogLossReduction: MeanAndStd(runs.Select(r => r.LogLossReduction)),
            MacroF1: MeanAndStd(runs.Select(r => r.MacroF1)),
            TopKAccuracy: commonK
                .Select(k => new TopKAccuracySummary(k, MeanAndStd(runs.Select(r => r.TopK(k)!.Value))))
                .ToArray());
    }

    /// <summary>Mean and sample standard deviation (n - 1 divisor; 0 for a single value).</summary>
    /// <param name="values">At least one value.</param>
    /// <exception cref="ArgumentException"><paramref name="values"/> is empty.</exception>
    public static MeanStd MeanAndStd(IEnumerable<double> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        var v = values.ToArray();
        if (v.Length == 0)
            throw new ArgumentException("At least one value is needed for a mean.", nameof(values));
        double mean = v.Average();
        if (v.Length == 1)
            return new MeanStd(mean, 0);
        // Two-pass form: subtracting the mean first avoids the cancellation of the sum-of-squares shortcut.
        double squares = 0;
        foreach (double x in v)
            squares += (x - mean) * (x - mean);
        return new MeanStd(mean, Math.Sqrt(squares / (v.Length - 1)));
    }

    private static void Validate(IReadOnlyList<string> classNames, IReadOnlyList<int> trueLabels, IReadOnlyList<float[]> probabilities)
    {
        ArgumentNullException.ThrowIfNull(classNames);
        ArgumentNullException.ThrowIfNull(trueLabels);
        ArgumentNullException.ThrowIfNull(probabilities);

        if (classNames.Count == 0)
            throw new ArgumentException("At least one class name is needed.", nameof(classNames));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < classNames.Count; i++)
        {
            if (classNames[i] is null)
                throw new ArgumentNullException(nameof(classNames), $"Class name at index {i} is null.");
            if (string.IsNullOrWhiteSpace(classNames[i]))
                throw new ArgumentException($"Class name at index {i} is empty or blank.", nameof(classNames));
            if (!seen.Add(classNames[i]))
                throw new ArgumentException($"Class name '{classNames[i]}' appears more than once (index {i}).", nameof(classNames));
        }

        if (trueLabels.Count != probabilities.Count)
            throw new ArgumentException(
                $"There are {trueLabels.Count} true labels but {probabilities.Count} probability vectors; they must match one to one.",
                nameof(probabilities));
        if (trueLabels.Count == 0)
            throw new ArgumentException("At least one sample is needed to compute metrics.", nameof(trueLabels));

        int classes = classNames.Count;
        for (int s = 0; s < trueLabels.Count; s++)
        {
            int label = trueLabels[s];
            if (label < 0 || label >= classes)
                throw new ArgumentException(
                    $"True label {label} of sample {s} is outside [0, {classes - 1}] for {classes} classes.",
                    nameof(trueLabels));

            var p = probabilities[s] ?? throw new ArgumentNullException(nameof(probabilities), $"Probability vector of sample {s} is null.");
            if (p.Length != classes)
                throw new ArgumentException(
                    $"Probability vector of sample {s} has {p.Length} values but there are {classes} classes.",
                    nameof(probabilities));
            for (int c = 0; c < classes; c++)
                if (!float.IsFinite(p[c]))
                    throw new ArgumentException(
                        $"Probability of class {c} ('{classNames[c]}') for sample {s} is {p[c]}; values must be finite.",
                        nameof(probabilities));
        }
    }
}
