namespace MLTransfer.FineTuning;

/// <summary>One point of the learning curves.</summary>
/// <param name="Epoch">0 is the head alone on frozen features (the warm start); 1.. are joint epochs.</param>
/// <param name="TrainLoss">Mean cross-entropy on the training images (running mean over the epoch's batches).</param>
/// <param name="TrainAccuracy">Accuracy on the training images, measured the same way.</param>
/// <param name="SelectionLoss">Mean cross-entropy on the early-stopping set after the epoch.</param>
/// <param name="SelectionAccuracy">Accuracy on the early-stopping set after the epoch.</param>
/// <param name="Seconds">Wall time of the epoch.</param>
/// <param name="WeightDrift">Root-mean-square distance of the retrained backbone weights from their pretrained values (0 at epoch 0).</param>
public sealed record FineTuningEpoch(int Epoch, double TrainLoss, double TrainAccuracy, double SelectionLoss, double SelectionAccuracy, double Seconds, double WeightDrift = 0);
