using System.Diagnostics;
using System.Globalization;

namespace MLTransfer.FineTuning;

/// <summary>
/// Trains the top layers of the backbone and a softmax head together: the head is first fitted alone on the
/// pretrained top (so the first joint steps do not push random-head gradients into pretrained weights),
/// then Adam trains both, the backbone at a fraction of the head's learning rate, and the epoch with the
/// best early-stopping score is kept. Epoch 0 competes too: when no joint epoch beats the head alone, the
/// backbone is left as it was.
/// </summary>
internal static class JointTraining
{
    /// <summary>Trains; afterwards <paramref name="cut"/>'s network holds the weights of the kept epoch.</summary>
    /// <param name="cut">The backbone's trainable top and the shape of its input.</param>
    /// <param name="plan">The lanes early stopping scores.</param>
    /// <param name="all">Every training image, for the retrain once cross-validation has chosen the epoch count.</param>
    /// <param name="classes">Number of classes.</param>
    /// <param name="featureSize">Width of the features the top outputs.</param>
    /// <param name="options">Epochs, patience, learning rates.</param>
    /// <param name="seed">Seeds the shuffling.</param>
    /// <param name="log">Receives one line per epoch.</param>
    /// <param name="cancellation">Stops between epochs.</param>
    public static JointTrainingOutcome Run(BackboneCut cut, EarlyStoppingPlan plan, EarlyStoppingLaneData all, int classes, int featureSize,
        FineTuningOptions options, int seed, Action<string> log, CancellationToken cancellation)
    {
        var network = cut.Network;
        var head = new SoftmaxHead(featureSize, classes);
        var pretrained = network.Snapshot();
        var warmClock = Stopwatch.StartNew();
        // Each lane's warm-up continues from the head the previous lane left, as the tuned defaults were measured.
        var lanes = plan.Lanes.Select((data, i) => new Lane(data, WarmUpHead(head, cut, data.FitCut, data.FitLabels, data.SelectionCut, data.SelectionLabels, options),
            pretrained, head.Snapshot(), NewOptimizer(network, head, options), new Random(seed + i))).ToList();
        warmClock.Stop();
        var epochs = new List<FineTuningEpoch> { Pool(0, lanes, lanes.Select(l => l.Start).ToList(), warmClock.Elapsed.TotalSeconds, 0) };
        log(EpochLine(epochs[0]));

        var best = (Epoch: 0, epochs[0].SelectionAccuracy, epochs[0].SelectionLoss, Net: pretrained);
        var tuneClock = Stopwatch.StartNew();
        var stoppedEarly = false;
        for (var epoch = 1; epoch <= options.MaxEpochs; epoch++)
        {
            cancellation.ThrowIfCancellationRequested();
            var clock = Stopwatch.StartNew();
            var results = new List<FineTuningEpoch>();
            double drift = 0;
            foreach (var lane in lanes)
            {
                network.Restore(lane.Net);
                head.Restore(lane.Head);
                var (trainLoss, trainAcc) = TrainEpoch(cut, head, lane.Optimizer, lane.Rng, lane.Order, lane.Data.FitCut, lane.Data.FitLabels, options);
                var (selLoss, selAcc) = Measure(head, cut, lane.Data.SelectionCut, lane.Data.SelectionLabels);
                results.Add(new FineTuningEpoch(epoch, trainLoss, trainAcc, selLoss, selAcc, 0));
                drift += Drift(network, pretrained) / lanes.Count;
                (lane.Net, lane.Head) = (network.Snapshot(), head.Snapshot());
            }
            var record = Pool(epoch, lanes, results, clock.Elapsed.TotalSeconds, drift);
            epochs.Add(record);
            var improved = record.SelectionAccuracy > best.SelectionAccuracy || record.SelectionAccuracy == best.SelectionAccuracy && record.SelectionLoss < best.SelectionLoss;
            log(EpochLine(record) + (improved ? "  *" : ""));
            if (improved)
                best = (epoch, record.SelectionAccuracy, record.SelectionLoss, lanes[0].Net);
            else if (epoch - best.Epoch >= options.Patience)
            {
                stoppedEarly = true;
                break;
            }
        }
        if (plan.Folds >= 2)
            RetrainOnAll(cut, head, all, pretrained, best.Epoch, options, seed, log, cancellation);
        else
            network.Restore(best.Net);
        tuneClock.Stop();
        log($"kept epoch {best.Epoch}{(stoppedEarly ? " (stopped early)" : "")}");
        if (best.Epoch == 0)
            log("no fine-tuning epoch beat the frozen backbone on the early-stopping score: the backbone is saved unchanged (the model is the frozen-backbone model)");
        return new JointTrainingOutcome(epochs, best.Epoch, stoppedEarly, warmClock.Elapsed, tuneClock.Elapsed);
    }

    /// <summary>
    /// Cross-validation chose the epoch count; the backbone is now trained on every training image for that
    /// many epochs (same schedule, no early-stopping set left to look at).
    /// </summary>
    private static void RetrainOnAll(BackboneCut cut, SoftmaxHead head, EarlyStoppingLaneData all, float[][] pretrained, int epochs, FineTuningOptions options, int seed,
        Action<string> log, CancellationToken cancellation)
    {
        var network = cut.Network;
        network.Restore(pretrained);
        var (allCut, allLabels) = (all.FitCut, all.FitLabels);
        WarmUpHead(head, cut, allCut, allLabels, [], [], options);
        var optimizer = NewOptimizer(network, head, options);
        var rng = new Random(seed);
        var order = Enumerable.Range(0, allCut.Count).ToArray();
        for (var epoch = 1; epoch <= epochs; epoch++)
        {
            cancellation.ThrowIfCancellationRequested();
            var clock = Stopwatch.StartNew();
            var (trainLoss, trainAcc) = TrainEpoch(cut, head, optimizer, rng, order, allCut, allLabels, options);
            log(string.Create(CultureInfo.InvariantCulture,
                $"all training images, epoch {epoch,2} of {epochs}: train loss {trainLoss:F4} acc {trainAcc:F3} | drift {Drift(network, pretrained):E2} | {clock.Elapsed.TotalSeconds:F1} s"));
        }
    }

    private static FineTuningEpoch WarmUpHead(SoftmaxHead head, BackboneCut cut, List<float[]> fitCut, int[] fitLabels,
        List<float[]> selectionCut, int[] selectionLabels, FineTuningOptions options)
    {
        var clock = Stopwatch.StartNew();
        var features = Stack(cut.Features(fitCut));
        var optimizer = new AdamOptimizer(head.Parameters.Select(p => (p, options.HeadWarmupLearningRate)));
        for (var step = 0; step < options.HeadWarmupSteps; step++)
        {
            head.Run(features, fitLabels, options.HeadL2, backward: true);
            optimizer.Step();
        }
        var (loss, correct, _) = head.Run(features, fitLabels, options.HeadL2, backward: false);
        var (selLoss, selAcc) = Measure(head, cut, selectionCut, selectionLabels);
        return new FineTuningEpoch(0, loss, (double)correct / fitLabels.Length, selLoss, selAcc, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Root-mean-square distance of the trainable backbone weights from their values in <paramref name="pretrained"/> (a <see cref="TrainableNetwork.Snapshot"/>).</summary>
    private static double Drift(TrainableNetwork network, float[][] pretrained)
    {
        double sum = 0; long n = 0;
        for (var i = 0; i < network.Parameters.Count; i++)
        {
            var p = network.Parameters[i];
            if (!p.Trainable)
                continue;
            var w0 = pretrained[i];
            for (var j = 0; j < w0.Length; j++)
                sum += (double)(p.Value[j] - w0[j]) * (p.Value[j] - w0[j]);
            n += w0.Length;
        }
        return n == 0 ? 0 : Math.Sqrt(sum / n);
    }

    private static AdamOptimizer NewOptimizer(TrainableNetwork network, SoftmaxHead head, FineTuningOptions options) => new(
        network.TrainableParameters.Select(p => (p, options.LearningRate * options.BackboneLearningRateFactor))
            .Concat(head.Parameters.Select(p => (p, options.LearningRate))));

    /// <summary>One pass over the fit images in shuffled mini-batches; returns the running mean loss and accuracy.</summary>
    private static (double Loss, double Accuracy) TrainEpoch(BackboneCut cut, SoftmaxHead head, AdamOptimizer optimizer, Random rng,
        int[] order, List<float[]> fitCut, int[] fitLabels, FineTuningOptions options)
    {
        rng.Shuffle(order);
        double lossSum = 0;
        var correct = 0;
        for (var start = 0; start < order.Length; start += options.BatchSize)
        {
            var idx = order.AsSpan(start, Math.Min(options.BatchSize, order.Length - start)).ToArray();
            var tape = cut.Network.ForwardWithTape(Act.FromImages(idx.Select(i => fitCut[i]).ToList(), cut.Shape[0], cut.Shape[1], cut.Shape[2]));
            var (loss, right, grad) = head.Run(tape.Output, idx.Select(i => fitLabels[i]).ToList(), options.HeadL2, backward: true);
            cut.Network.Backward(tape, grad!);
            optimizer.Step();
            lossSum += loss * idx.Length;
            correct += right;
        }
        return (lossSum / fitCut.Count, (double)correct / fitCut.Count);
    }

    /// <summary>Pools the lanes' scores of one epoch, weighting each lane by its image counts (k folds: every training image once).</summary>
    private static FineTuningEpoch Pool(int epoch, List<Lane> lanes, List<FineTuningEpoch> results, double seconds, double drift)
    {
        double Weighted(Func<FineTuningEpoch, double> value, Func<Lane, int> count) =>
            lanes.Select((l, i) => value(results[i]) * count(l)).Sum() / lanes.Sum(count);
        var hasSelection = lanes.Sum(l => l.Data.SelectionLabels.Length) > 0;
        return new FineTuningEpoch(epoch,
            Weighted(e => e.TrainLoss, l => l.Data.FitLabels.Length), Weighted(e => e.TrainAccuracy, l => l.Data.FitLabels.Length),
            hasSelection ? Weighted(e => e.SelectionLoss, l => l.Data.SelectionLabels.Length) : double.NaN,
            hasSelection ? Weighted(e => e.SelectionAccuracy, l => l.Data.SelectionLabels.Length) : double.NaN,
            seconds, drift);
    }

    private static (double Loss, double Accuracy) Measure(SoftmaxHead head, BackboneCut cut, List<float[]> activations, int[] labels)
    {
        if (activations.Count == 0)
            return (double.NaN, double.NaN);
        var (loss, correct, _) = head.Run(Stack(cut.Features(activations)), labels, 0, backward: false);
        return (loss, (double)correct / activations.Count);
    }

    private static Act Stack(List<float[]> vectors) => Act.FromImages(vectors, vectors[0].Length, 1, 1);

    private static string EpochLine(FineTuningEpoch e) => string.Create(CultureInfo.InvariantCulture,
        $"epoch {e.Epoch,2}: train loss {e.TrainLoss:F4} acc {e.TrainAccuracy:F3} | early-stopping loss {e.SelectionLoss:F4} acc {e.SelectionAccuracy:F3} | drift {e.WeightDrift:E2} | {e.Seconds:F1} s");
}
