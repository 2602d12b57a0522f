namespace MLTransfer.FineTuning;

/// <summary>
/// One training run that early stopping scores: its own fit and early-stopping images, and the state that
/// evolves epoch by epoch (weights of the top layers and the head, optimiser moments, shuffling).
/// </summary>
internal sealed class Lane(EarlyStoppingLaneData data, FineTuningEpoch start, float[][] net, float[] head, AdamOptimizer optimizer, Random rng)
{
    public EarlyStoppingLaneData Data { get; } = data;
    /// <summary>Epoch 0: the head fitted alone on the pretrained top.</summary>
    public FineTuningEpoch Start { get; } = start;
    /// <summary>Weights of the trainable top after the lane's last epoch (a <see cref="TrainableNetwork.Snapshot"/>).</summary>
    public float[][] Net { get; set; } = net;
    /// <summary>Head weights after the lane's last epoch.</summary>
    public float[] Head { get; set; } = head;
    public AdamOptimizer Optimizer { get; } = optimizer;
    public Random Rng { get; } = rng;
    /// <summary>Visiting order of the fit images, reshuffled in place each epoch.</summary>
    public int[] Order { get; } = Enumerable.Range(0, data.FitCut.Count).ToArray();
}
