namespace MLTransfer.FineTuning;

/// <summary>What joint training of the top layers and the head did.</summary>
/// <param name="Epochs">Epoch 0 (the head alone) and every joint epoch, pooled over the lanes.</param>
/// <param name="BestEpoch">The epoch kept; 0 means the pretrained backbone is kept unchanged.</param>
/// <param name="StoppedEarly">True when patience ran out before the last epoch.</param>
/// <param name="WarmupTime">Time spent fitting the head alone.</param>
/// <param name="TuningTime">Time spent in joint epochs (and the retrain on all images).</param>
internal sealed record JointTrainingOutcome(IReadOnlyList<FineTuningEpoch> Epochs, int BestEpoch, bool StoppedEarly, TimeSpan WarmupTime, TimeSpan TuningTime);
