using System.Numerics.Tensors;

namespace MLTransfer.Heads;

/// <summary>
/// Trains a softmax or MLP head on cached features with mini-batch SGD-with-momentum or Adam. The training
/// set is reshuffled every epoch; everything random comes from one seeded generator and the arithmetic
/// is single-threaded, so a seed fixes the result exactly.
/// </summary>
internal static class NeuralHeadTrainer
{
    /// <summary>Fits a head.</summary>
    /// <param name="train">Training examples.</param>
    /// <param name="classCount">Number of classes (labels are 0 .. classCount - 1).</param>
    /// <param name="validation">Validation examples for the per-epoch metrics and early stopping, or null.</param>
    /// <param name="options">Architecture and optimisation settings.</param>
    /// <param name="cancellation">Stops between mini-batches.</param>
    public static HeadTrainingResult Train(HeadExamples train, int classCount, HeadExamples? validation, HeadTrainingOptions options, CancellationToken cancellation = default)
    {
        Validate(train, classCount, options);
        var random = new Random(options.Seed);
        var network = HeadNetwork.Create(train.Features[0].Length, options.HiddenLayers, classCount, random);
        var x = train.Features.Select(f => network.Normalise(f)).ToList();
        var xv = validation is { Count: > 0 } ? validation.Features.Select(f => network.Normalise(f)).ToList() : null;
        var weights = options.ClassWeights?.ToArray();
        var dropout = options.HiddenLayers.Count > 0 ? options.Dropout : 0f;

        var gradient = network.ZeroLike();
        var m = network.ZeroLike();
        var v = network.ZeroLike();
        var order = Enumerable.Range(0, train.Count).ToArray();
        var batchSize = Math.Clamp(options.BatchSize, 1, train.Count);
        var batchesPerEpoch = (train.Count + batchSize - 1) / batchSize;
        var history = new List<EpochMetrics>();
        HeadNetwork best = network.Clone();
        var bestEpoch = 0;
        (double Loss, double Accuracy)? bestScore = null;
        var sinceBest = 0;
        var stoppedEarly = false;
        long step = 0;
        var rate = options.LearningRate;

        for (var epoch = 1; epoch <= options.Epoch; epoch++)
        {
            random.Shuffle(order);
            double lossSum = 0;
            var correct = 0;
            for (var b = 0; b < batchesPerEpoch; b++)
            {
                cancellation.ThrowIfCancellationRequested();
                var batch = order.AsSpan(b * batchSize, Math.Min(batchSize, train.Count - b * batchSize));
                foreach (var g in gradient)
                {
                    Array.Clear(g.Weights);
                    Array.Clear(g.Bias);
                }
                var (loss, _, right) = network.LossAndGradient(x, train.Labels, batch, weights, options.L2Regularization, dropout, random, gradient);
                lossSum += loss * batch.Length;
                correct += right;
                var epochsDone = epoch - 1 + (double)b / batchesPerEpoch;
                rate = (float)(options.LearningRateScheduler?.Rate(options.LearningRate, epochsDone, options.Epoch) ?? options.LearningRate);
                step++;
                Update(network, gradient, m, v, options, rate, step);
            }

            double? valLoss = null, valAccuracy = null;
            if (xv is not null)
                (valLoss, valAccuracy) = Evaluate(network, xv, validation!.Labels);
            var metrics = new EpochMetrics(epoch, lossSum / train.Count, (double)correct / train.Count, valLoss, valAccuracy, rate);
            history.Add(metrics);
            options.MetricsCallback?.Invoke(metrics);

            if (options.EarlyStopping is { } stop && valLoss is { } vl && valAccuracy is { } va)
            {
                if (bestScore is null || Improves(stop, (vl, va), bestScore.Value))
                {
                    bestScore = (vl, va);
                    best = network.Clone();
                    bestEpoch = epoch;
                    sinceBest = 0;
                }
                else if (++sinceBest >= stop.Patience)
                {
                    stoppedEarly = epoch < options.Epoch;
                    break;
                }
            }
            else
            {
                best = network;
                bestEpoch = epoch;
            }
        }
        return new HeadTrainingResult(bestEpoch == history.Count && !stoppedEarly ? network : best, history, bestEpoch, stoppedEarly, options.L2Regularization);
    }

    /// <summary>Log-loss (clamped like ML.NET's) and accuracy of a network on normalised examples.</summary>
    internal static (double Loss, double Accuracy) Evaluate(HeadNetwork network, IReadOnlyList<float[]> normalised, IReadOnlyList<int> labels)
    {
        double loss = 0;
        var correct = 0;
        for (var i = 0; i < normalised.Count; i++)
        {
            var p = network.PredictNormalised(normalised[i]);
            loss -= Math.Log(Math.Max(p[labels[i]], 1e-15));
            if (TensorPrimitives.IndexOfMax(p) == labels[i])
                correct++;
        }
        return (loss / normalised.Count, (double)correct / normalised.Count);
    }

    private static bool Improves(EarlyStoppingCriteria stop, (double Loss, double Accuracy) now, (double Loss, double Accuracy) best) => stop.Metric switch
    {
        EarlyStoppingMetric.Accuracy => now.Accuracy > best.Accuracy + stop.MinDelta
            || (Math.Abs(now.Accuracy - best.Accuracy) <= stop.MinDelta && now.Loss < best.Loss - stop.MinDelta),
        _ => now.Loss < best.Loss - stop.MinDelta,
    };

    private static void Update(HeadNetwork network, DenseLayer[] gradient, DenseLayer[] m, DenseLayer[] v, HeadTrainingOptions options, float rate, long step)
    {
        for (var l = 0; l < network.Layers.Count; l++)
        {
            var layer = network.Layers[l];
            Apply(layer.Weights, gradient[l].Weights, m[l].Weights, v[l].Weights, options, rate, step);
            Apply(layer.Bias, gradient[l].Bias, m[l].Bias, v[l].Bias, options, rate, step);
        }
    }

    private static void Apply(Span<float> p, ReadOnlySpan<float> g, Span<float> m, Span<float> v, HeadTrainingOptions options, float rate, long step)
    {
        if (options.Optimizer == HeadOptimizer.SgdMomentum)
        {
            // v = μv + g; p -= rate·v
            TensorPrimitives.MultiplyAdd(m, options.Momentum, g, m);
            TensorPrimitives.MultiplyAdd(m, -rate, p, p);
            return;
        }
        const float beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-8f;
        var c1 = 1 - Math.Pow(beta1, step);
        var c2 = 1 - Math.Pow(beta2, step);
        var stepSize = (float)(rate * Math.Sqrt(c2) / c1);
        for (var i = 0; i < p.Length; i++)
        {
            m[i] = beta1 * m[i] + (1 - beta1) * g[i];
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
            p[i] -= stepSize * m[i] / (MathF.Sqrt(v[i]) + epsilon);
        }
    }

    private static void Validate(HeadExamples train, int classCount, HeadTrainingOptions options)
    {
        if (train.Count == 0)
            throw new MLTransferException("No training examples to fit the head on", null, "Check that the training data has usable images");
        if (classCount < 2)
            throw new MLTransferException($"A classifier needs at least 2 classes, got {classCount}", null, "Add images of another class");
        if (train.Labels.Any(l => l < 0 || l >= classCount))
            throw new ArgumentException($"Labels must lie in 0..{classCount - 1}.", nameof(train));
        if (options.Epoch < 1 || options.BatchSize < 1 || !(options.LearningRate > 0) || options.L2Regularization < 0 || options.Dropout is < 0 or >= 1)
            throw new MLTransferException("Invalid head training options", null,
                "Epoch and BatchSize must be ≥ 1, LearningRate > 0, L2Regularization ≥ 0, Dropout in [0, 1)");
        if (options.HiddenLayers.Any(h => h < 1))
            throw new MLTransferException("Hidden layer sizes must be ≥ 1", null, "Pass positive widths, e.g. [256]");
        if (options.ClassWeights is { } w && (w.Count != classCount || w.Any(c => !(c > 0))))
            throw new MLTransferException($"ClassWeights must hold {classCount} positive weights (one per class)", null, "Pass one weight per class, in key order");
    }
}
