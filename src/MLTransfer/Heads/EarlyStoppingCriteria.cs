namespace MLTransfer.Heads;

/// <summary>The validation figure early stopping watches.</summary>
public enum EarlyStoppingMetric
{
    /// <summary>Validation log-loss (lower is better). Smoother than accuracy on small validation sets.</summary>
    Loss,
    /// <summary>Validation accuracy (higher is better); ties are broken by the lower loss.</summary>
    Accuracy,
}

/// <summary>
/// Stops training when the validation metric has not improved by more than <see cref="MinDelta"/> for
/// <see cref="Patience"/> epochs, and restores the weights of the best epoch (unlike ML.NET Vision, which
/// keeps the last). Needs a validation set; without one, training runs all epochs.
/// </summary>
/// <param name="Metric">What to watch (default loss).</param>
/// <param name="Patience">Epochs without improvement before stopping (default 10).</param>
/// <param name="MinDelta">Smallest change that counts as an improvement (default 1e-4).</param>
public sealed record EarlyStoppingCriteria(EarlyStoppingMetric Metric = EarlyStoppingMetric.Loss, int Patience = 10, double MinDelta = 1e-4);
