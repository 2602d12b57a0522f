namespace MLTransfer.Heads;

/// <summary>A fully connected layer <c>z = W·a + b</c>.</summary>
/// <param name="Inputs">Width of the input.</param>
/// <param name="Outputs">Width of the output.</param>
/// <param name="Weights">Row-major <c>[Outputs, Inputs]</c>: row <c>o</c> holds the weights of output <c>o</c> (ONNX Gemm with <c>transB = 1</c>).</param>
/// <param name="Bias">One bias per output.</param>
internal sealed record DenseLayer(int Inputs, int Outputs, float[] Weights, float[] Bias)
{
    /// <summary>A zero layer of the given size (gradient and optimiser buffers).</summary>
    public static DenseLayer Zero(int inputs, int outputs) => new(inputs, outputs, new float[inputs * outputs], new float[outputs]);

    /// <summary>Weights of output <paramref name="o"/>.</summary>
    public Span<float> Row(int o) => Weights.AsSpan(o * Inputs, Inputs);

    /// <summary>A deep copy.</summary>
    public DenseLayer DeepCopy() => this with { Weights = (float[])Weights.Clone(), Bias = (float[])Bias.Clone() };
}
