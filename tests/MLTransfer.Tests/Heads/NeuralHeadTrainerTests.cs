using System.Numerics.Tensors;
using MLTransfer.Heads;
using NUnit.Framework;

namespace MLTransfer.Tests.Heads;

/// <summary>Every head-training option changes the outcome, and a seed fixes it.</summary>
public class NeuralHeadTrainerTests
{
    private static readonly HeadExamples Train = HeadTestData.Blobs(perClass: 30, classes: 3, dims: 16, spread: 0.6, seed: 1);
    private static readonly HeadExamples Validation = HeadTestData.Blobs(perClass: 15, classes: 3, dims: 16, spread: 0.6, seed: 1).Subset(Enumerable.Range(0, 45));
    private static readonly HeadTrainingOptions Fast = new() { Epoch = 20, EarlyStopping = null };

    private static HeadTrainingResult Fit(HeadTrainingOptions options, HeadExamples? train = null, HeadExamples? validation = null) =>
        NeuralHeadTrainer.Train(train ?? Train, 3, validation ?? Validation, options);

    private static float[] AllWeights(HeadNetwork n) => n.Layers.SelectMany(l => l.Weights.Concat(l.Bias)).ToArray();

    [Test]
    public void Same_seed_gives_identical_heads_and_another_seed_does_not()
    {
        var options = Fast with { HiddenLayers = [8] };
        var a = Fit(options);
        var b = Fit(options);
        var c = Fit(options with { Seed = 7 });
        Assert.That(AllWeights(b.Network), Is.EqualTo(AllWeights(a.Network)));
        Assert.That(AllWeights(c.Network), Is.Not.EqualTo(AllWeights(a.Network)));
    }

    [Test]
    public void Linear_head_learns_separable_blobs_with_both_optimisers()
    {
        foreach (var optimizer in new[] { HeadOptimizer.Adam, HeadOptimizer.SgdMomentum })
        {
            var result = Fit(Fast with { Optimizer = optimizer, LearningRate = optimizer == HeadOptimizer.Adam ? 0.01f : 0.05f });
            Assert.That(result.History[^1].ValidationAccuracy, Is.GreaterThan(0.9), optimizer.ToString());
            Assert.That(result.History[^1].TrainLoss, Is.LessThan(result.History[0].TrainLoss), optimizer.ToString());
        }
    }

    [Test]
    public void Learning_rate_batch_size_dropout_and_momentum_each_change_the_trajectory()
    {
        var baseline = Fit(Fast with { HiddenLayers = [8], Optimizer = HeadOptimizer.SgdMomentum, LearningRate = 0.01f });
        double[] Losses(HeadTrainingResult r) => r.History.Select(h => h.TrainLoss).ToArray();
        Assert.That(Losses(Fit(Fast with { HiddenLayers = [8], Optimizer = HeadOptimizer.SgdMomentum, LearningRate = 0.02f })), Is.Not.EqualTo(Losses(baseline)), "learning rate");
        Assert.That(Losses(Fit(Fast with { HiddenLayers = [8], Optimizer = HeadOptimizer.SgdMomentum, LearningRate = 0.01f, BatchSize = 8 })), Is.Not.EqualTo(Losses(baseline)), "batch size");
        Assert.That(Losses(Fit(Fast with { HiddenLayers = [8], Optimizer = HeadOptimizer.SgdMomentum, LearningRate = 0.01f, Dropout = 0.5f })), Is.Not.EqualTo(Losses(baseline)), "dropout");
        Assert.That(Losses(Fit(Fast with { HiddenLayers = [8], Optimizer = HeadOptimizer.SgdMomentum, LearningRate = 0.01f, Momentum = 0.5f })), Is.Not.EqualTo(Losses(baseline)), "momentum");
    }

    [Test]
    public void Stronger_L2_gives_smaller_weights()
    {
        var weak = Fit(Fast with { L2Regularization = 0, LearningRate = 0.01f, Epoch = 50 });
        var strong = Fit(Fast with { L2Regularization = 0.1f, LearningRate = 0.01f, Epoch = 50 });
        Assert.That(TensorPrimitives.Norm(strong.Network.Layers[0].Weights), Is.LessThan(0.8 * TensorPrimitives.Norm(weak.Network.Layers[0].Weights)));
    }

    [Test]
    public void Scheduler_scales_the_given_learning_rate_instead_of_replacing_it()
    {
        var slow = Fit(Fast with { LearningRate = 0.001f, LearningRateScheduler = new CosineDecay() });
        var fast = Fit(Fast with { LearningRate = 0.01f, LearningRateScheduler = new CosineDecay() });
        Assert.That(fast.History[0].LearningRate, Is.EqualTo(10 * slow.History[0].LearningRate).Within(1e-6));
        Assert.That(slow.History[^1].LearningRate, Is.LessThan(slow.History[0].LearningRate / 20), "cosine anneals towards 0");
        Assert.That(fast.History.Select(h => h.TrainLoss), Is.Not.EqualTo(slow.History.Select(h => h.TrainLoss)));
    }

    [Test]
    public void Schedulers_follow_their_formulas()
    {
        Assert.That(new ExponentialDecay(0.5, 2).Rate(1, 3.9, 10), Is.EqualTo(0.5).Within(1e-12), "staircase: one whole period");
        Assert.That(new ExponentialDecay(0.5, 2, Staircase: false).Rate(1, 4, 10), Is.EqualTo(0.25).Within(1e-12));
        Assert.That(new PolynomialDecay(0, 1).Rate(1, 5, 10), Is.EqualTo(0.5).Within(1e-12));
        Assert.That(new PolynomialDecay(0.1, 2).Rate(1, 10, 10), Is.EqualTo(0.1).Within(1e-12));
        Assert.That(new CosineDecay().Rate(2, 5, 10), Is.EqualTo(1).Within(1e-12));
        var oneCycle = new OneCycle(0.3, 25, 1e4);
        Assert.That(oneCycle.Rate(1, 0, 10), Is.EqualTo(0.04).Within(1e-12));
        Assert.That(oneCycle.Rate(1, 3, 10), Is.EqualTo(1).Within(1e-12), "peak at the end of the warm-up");
        Assert.That(oneCycle.Rate(1, 10, 10), Is.EqualTo(1e-4).Within(1e-12));
    }

    [Test]
    public void Patience_stops_training_and_the_best_epoch_is_restored()
    {
        // A large learning rate and no L2 on a small noisy set: validation loss bottoms out early, then rises.
        var train = HeadTestData.Blobs(perClass: 6, classes: 3, dims: 16, spread: 2.5, seed: 5);
        var options = new HeadTrainingOptions { Epoch = 300, LearningRate = 0.05f, L2Regularization = 0, HiddenLayers = [32], Dropout = 0, EarlyStopping = new EarlyStoppingCriteria(Patience: 3) };
        var result = Fit(options, train);
        Assert.That(result.StoppedEarly, Is.True);
        Assert.That(result.History, Has.Count.LessThan(300));
        Assert.That(result.BestEpoch, Is.EqualTo(result.History.Count - 3));
        var best = result.History[result.BestEpoch - 1];
        Assert.That(best.ValidationLoss, Is.EqualTo(result.History.Min(h => h.ValidationLoss!.Value)).Within(1e-4));
        var x = Validation.Features.Select(f => result.Network.Normalise(f)).ToList();
        var (loss, _) = NeuralHeadTrainer.Evaluate(result.Network, x, Validation.Labels);
        Assert.That(loss, Is.EqualTo(best.ValidationLoss!.Value).Within(1e-9), "the returned weights are those of the best epoch");

        var longer = Fit(options with { EarlyStopping = new EarlyStoppingCriteria(Patience: 20) }, train);
        Assert.That(longer.History, Has.Count.GreaterThan(result.History.Count));
    }

    [Test]
    public void Metrics_callback_sees_every_epoch()
    {
        var seen = new List<EpochMetrics>();
        var result = Fit(Fast with { MetricsCallback = seen.Add });
        Assert.That(seen, Is.EqualTo(result.History));
        Assert.That(seen.Select(s => s.Epoch), Is.EqualTo(Enumerable.Range(1, 20)));
        Assert.That(seen.All(s => s.ValidationLoss is not null && s.ValidationAccuracy is not null));
    }

    [Test]
    public void Class_weights_shift_predictions_towards_the_heavier_class()
    {
        var noisy = HeadTestData.Blobs(perClass: 30, classes: 3, dims: 16, spread: 3, seed: 9);
        int Predicted0(HeadTrainingResult r) => noisy.Features.Count(f => TensorPrimitives.IndexOfMax(r.Network.Predict(f)) == 0);
        var plain = Fit(Fast, noisy);
        var weighted = Fit(Fast with { ClassWeights = [10f, 1f, 1f] }, noisy);
        Assert.That(Predicted0(weighted), Is.GreaterThan(Predicted0(plain) + 5));
    }

    [Test]
    public void Hidden_layer_learns_what_a_linear_head_cannot()
    {
        // XOR of the signs of two coordinates: not linearly separable.
        var random = new Random(4);
        var features = new List<float[]>();
        var labels = new List<int>();
        for (var i = 0; i < 200; i++)
        {
            var a = random.NextDouble() * 2 - 1;
            var b = random.NextDouble() * 2 - 1;
            features.Add([(float)a, (float)b, 1f]);
            labels.Add(a * b > 0 ? 1 : 0);
        }
        var data = new HeadExamples(features, labels);
        var options = new HeadTrainingOptions { Epoch = 150, LearningRate = 0.02f, EarlyStopping = null, Dropout = 0 };
        var linear = NeuralHeadTrainer.Train(data, 2, data, options);
        var mlp = NeuralHeadTrainer.Train(data, 2, data, options with { HiddenLayers = [16] });
        Assert.That(mlp.Network.Layers, Has.Count.EqualTo(2));
        Assert.That(linear.History[^1].ValidationAccuracy, Is.LessThan(0.75));
        Assert.That(mlp.History[^1].ValidationAccuracy, Is.GreaterThan(0.9));
    }
}
