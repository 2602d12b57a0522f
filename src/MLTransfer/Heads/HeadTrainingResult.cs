namespace MLTransfer.Heads;

/// <summary>A fitted head and how its training went.</summary>
/// <param name="Network">The weights kept: those of <see cref="BestEpoch"/>.</param>
/// <param name="History">One entry per epoch run.</param>
/// <param name="BestEpoch">The epoch whose weights were kept (the last one without early stopping).</param>
/// <param name="StoppedEarly">True when early stopping ended training before the last epoch.</param>
/// <param name="L2Regularization">The L2 weight used.</param>
internal sealed record HeadTrainingResult(HeadNetwork Network, IReadOnlyList<EpochMetrics> History, int BestEpoch, bool StoppedEarly, float L2Regularization);
