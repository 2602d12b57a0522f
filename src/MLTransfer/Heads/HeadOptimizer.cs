namespace MLTransfer.Heads;

/// <summary>The update rule of the trained head.</summary>
public enum HeadOptimizer
{
    /// <summary>Adam (β1 = 0.9, β2 = 0.999, ε = 1e-8): insensitive to the scale of each weight, a good default.</summary>
    Adam,
    /// <summary>Stochastic gradient descent with (heavy-ball) momentum.</summary>
    SgdMomentum,
}
