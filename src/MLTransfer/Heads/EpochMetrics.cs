namespace MLTransfer.Heads;

/// <summary>Figures of one training epoch, passed to <c>MetricsCallback</c> and kept in the training history.</summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="TrainLoss">Mean mini-batch loss over the epoch (cross-entropy with class weights and dropout, without the L2 term).</param>
/// <param name="TrainAccuracy">Fraction of training examples classified right during the epoch (with dropout).</param>
/// <param name="ValidationLoss">Log-loss on the validation set after the epoch, or null without one.</param>
/// <param name="ValidationAccuracy">Accuracy on the validation set after the epoch, or null without one.</param>
/// <param name="LearningRate">Learning rate at the end of the epoch.</param>
public sealed record EpochMetrics(int Epoch, double TrainLoss, double TrainAccuracy, double? ValidationLoss, double? ValidationAccuracy, double LearningRate);
