namespace MLTransfer.FineTuning;

/// <summary>
/// Adam with one learning rate per parameter group: the discriminative learning rates of fine-tuning
/// (small steps for pretrained layers, larger ones for the new head).
/// </summary>
/// <remarks>
/// Adam rather than SGD because its step size is set in parameter units, independent of the gradient's
/// scale; gradients reaching the backbone through the feature normalisation are small and vary by
/// backbone, which would make a single SGD learning rate fragile.
/// </remarks>
internal sealed class AdamOptimizer
{
    private readonly List<(Parameter Param, float Lr, float[] M, float[] V)> _state = [];
    private readonly float _beta1, _beta2, _epsilon;
    private int _step;

    public AdamOptimizer(IEnumerable<(Parameter Param, float LearningRate)> groups, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f)
    {
        foreach (var (p, lr) in groups)
            _state.Add((p, lr, new float[p.Length], new float[p.Length]));
        (_beta1, _beta2, _epsilon) = (beta1, beta2, epsilon);
    }

    /// <summary>Applies one update from the accumulated gradients, then clears them.</summary>
    public void Step()
    {
        _step++;
        var c1 = 1 - MathF.Pow(_beta1, _step);
        var c2 = 1 - MathF.Pow(_beta2, _step);
        MatOps.For(_state.Count, 1 << 14, i =>
        {
            var (p, lr, m, v) = _state[i];
            var (value, grad) = (p.Value, p.Grad);
            for (var j = 0; j < value.Length; j++)
            {
                var g = grad[j];
                m[j] = _beta1 * m[j] + (1 - _beta1) * g;
                v[j] = _beta2 * v[j] + (1 - _beta2) * g * g;
                value[j] -= lr * (m[j] / c1) / (MathF.Sqrt(v[j] / c2) + _epsilon);
            }
            Array.Clear(grad);
        });
    }
}
