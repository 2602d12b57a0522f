namespace MLTransfer.Heads;

/// <summary>How <see cref="NeuralHeadTrainer"/> fits a head on cached features.</summary>
internal sealed record HeadTrainingOptions
{
    /// <summary>Hidden layer widths; empty (the default) is a linear softmax head, e.g. <c>[256]</c> is a one-hidden-layer MLP.</summary>
    public IReadOnlyList<int> HiddenLayers { get; init; } = [];
    /// <summary>Dropout probability on hidden units during training (MLP only; default 0.2).</summary>
    public float Dropout { get; init; } = 0.2f;
    /// <summary>Maximum number of passes over the training set (default 100).</summary>
    public int Epoch { get; init; } = 100;
    /// <summary>Examples per mini-batch (default 32).</summary>
    public int BatchSize { get; init; } = 32;
    /// <summary>Base learning rate; schedulers scale it (default 1e-3, suited to Adam).</summary>
    public float LearningRate { get; init; } = 1e-3f;
    /// <summary>Update rule (default Adam).</summary>
    public HeadOptimizer Optimizer { get; init; } = HeadOptimizer.Adam;
    /// <summary>Momentum of <see cref="HeadOptimizer.SgdMomentum"/> (default 0.9).</summary>
    public float Momentum { get; init; } = 0.9f;
    /// <summary>Learning-rate schedule, or null for a constant rate.</summary>
    public LearningRateScheduler? LearningRateScheduler { get; init; }
    /// <summary>Early stopping on the validation set, or null to run every epoch.</summary>
    public EarlyStoppingCriteria? EarlyStopping { get; init; } = new();
    /// <summary>L2 weight on the weights (not biases) (default 1e-4).</summary>
    public float L2Regularization { get; init; } = 1e-4f;
    /// <summary>Loss weight per class index, or null for equal weights.</summary>
    public IReadOnlyList<float>? ClassWeights { get; init; }
    /// <summary>Seed of initialisation, shuffling and dropout: equal seeds give bit-identical heads.</summary>
    public int Seed { get; init; } = 42;
    /// <summary>Called after every epoch.</summary>
    public Action<EpochMetrics>? MetricsCallback { get; init; }
}
