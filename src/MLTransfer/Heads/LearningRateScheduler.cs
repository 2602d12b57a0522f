namespace MLTransfer.Heads;

/// <summary>
/// Shapes the learning rate over training. Every scheduler scales the base
/// <c>LearningRate</c> option; none replaces it (ML.NET Vision silently ignores <c>LearningRate</c> when a
/// scheduler is set, which made tuning it pointless).
/// </summary>
public abstract record LearningRateScheduler
{
    /// <summary>The learning rate after <paramref name="epochsDone"/> (fractional) of <paramref name="totalEpochs"/> epochs.</summary>
    /// <param name="baseRate">The <c>LearningRate</c> option.</param>
    /// <param name="epochsDone">Epochs elapsed, fractional within an epoch (the rate changes every mini-batch).</param>
    /// <param name="totalEpochs">The <c>Epoch</c> option.</param>
    public abstract double Rate(double baseRate, double epochsDone, int totalEpochs);
}

/// <summary><c>rate = base × DecayRate^(epochs / EpochsPerDecay)</c>, floored per step when <see cref="Staircase"/>.</summary>
/// <param name="DecayRate">Factor per decay period (default 0.94, as ML.NET's <c>ExponentialLRDecay</c>).</param>
/// <param name="EpochsPerDecay">Length of one decay period in epochs (default 2).</param>
/// <param name="Staircase">Decay in whole periods rather than continuously.</param>
public sealed record ExponentialDecay(double DecayRate = 0.94, double EpochsPerDecay = 2, bool Staircase = true) : LearningRateScheduler
{
    /// <inheritdoc />
    public override double Rate(double baseRate, double epochsDone, int totalEpochs)
    {
        var periods = epochsDone / EpochsPerDecay;
        return baseRate * Math.Pow(DecayRate, Staircase ? Math.Floor(periods) : periods);
    }
}

/// <summary>
/// Polynomial decay from the base rate to <see cref="EndLearningRate"/> over all epochs:
/// <c>rate = (base - end) × (1 - t)^Power + end</c>, <c>t</c> = fraction of training done.
/// </summary>
/// <param name="EndLearningRate">Rate at the end (default 1e-5; capped at the base rate).</param>
/// <param name="Power">Exponent (1 = linear).</param>
public sealed record PolynomialDecay(double EndLearningRate = 1e-5, double Power = 1) : LearningRateScheduler
{
    /// <inheritdoc />
    public override double Rate(double baseRate, double epochsDone, int totalEpochs)
    {
        var end = Math.Min(EndLearningRate, baseRate);
        var t = Math.Clamp(epochsDone / Math.Max(1, totalEpochs), 0, 1);
        return (baseRate - end) * Math.Pow(1 - t, Power) + end;
    }
}

/// <summary>Cosine annealing from the base rate to <c>base × MinFactor</c> over all epochs.</summary>
/// <param name="MinFactor">Final rate as a fraction of the base rate (default 0).</param>
public sealed record CosineDecay(double MinFactor = 0) : LearningRateScheduler
{
    /// <inheritdoc />
    public override double Rate(double baseRate, double epochsDone, int totalEpochs)
    {
        var t = Math.Clamp(epochsDone / Math.Max(1, totalEpochs), 0, 1);
        var min = baseRate * MinFactor;
        return min + (baseRate - min) * 0.5 * (1 + Math.Cos(Math.PI * t));
    }
}

/// <summary>
/// One-cycle policy (Smith): the rate climbs from <c>base / DivFactor</c> to the base rate (the peak) over
/// <see cref="WarmupFraction"/> of training, then anneals by cosine to <c>base / FinalDivFactor</c>.
/// </summary>
/// <param name="WarmupFraction">Share of training spent warming up (default 0.3).</param>
/// <param name="DivFactor">Peak over initial rate (default 25).</param>
/// <param name="FinalDivFactor">Peak over final rate (default 1e4).</param>
public sealed record OneCycle(double WarmupFraction = 0.3, double DivFactor = 25, double FinalDivFactor = 1e4) : LearningRateScheduler
{
    /// <inheritdoc />
    public override double Rate(double baseRate, double epochsDone, int totalEpochs)
    {
        var t = Math.Clamp(epochsDone / Math.Max(1, totalEpochs), 0, 1);
        var start = baseRate / DivFactor;
        var end = baseRate / FinalDivFactor;
        static double Cos(double from, double to, double u) => to + (from - to) * 0.5 * (1 + Math.Cos(Math.PI * u));
        return t < WarmupFraction
            ? Cos(start, baseRate, t / WarmupFraction)
            : Cos(baseRate, end, (t - WarmupFraction) / Math.Max(1e-12, 1 - WarmupFraction));
    }
}
