namespace MLTransfer.Reporting;

/// <summary>One epoch of an iterative trainer, for learning curves.</summary>
/// <param name="Epoch">1-based epoch number.</param>
/// <param name="TrainLoss">Mean training loss.</param>
/// <param name="TrainAccuracy">Training accuracy.</param>
/// <param name="ValidationLoss">Validation loss, or null without a validation set.</param>
/// <param name="ValidationAccuracy">Validation accuracy, or null without a validation set.</param>
/// <param name="LearningRate">Learning rate used in the epoch.</param>
internal sealed record EpochRecord(int Epoch, double TrainLoss, double TrainAccuracy, double? ValidationLoss, double? ValidationAccuracy, double LearningRate);
