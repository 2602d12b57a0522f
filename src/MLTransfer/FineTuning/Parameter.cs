namespace MLTransfer.FineTuning;

/// <summary>A weight tensor taken from an ONNX initializer, with its gradient.</summary>
/// <remarks>
/// <see cref="Value"/> is kept in the layout the layer computes with. A Gemm weight stored as
/// <c>[K, N]</c> (transB = 0) is transposed on import, so <see cref="OnnxValue"/> transposes it back.
/// </remarks>
internal sealed class Parameter
{
    public Parameter(string name, long[] onnxDims, float[] value, bool transposed = false)
    {
        Name = name;
        OnnxDims = onnxDims;
        Value = value;
        Grad = new float[value.Length];
        Transposed = transposed;
        if (transposed && onnxDims.Length != 2)
            throw new ArgumentException("Only 2-D weights can be stored transposed.");
    }

    /// <summary>Initializer name in the ONNX graph.</summary>
    public string Name { get; }
    public long[] OnnxDims { get; }
    public float[] Value { get; }
    public float[] Grad { get; }
    public bool Transposed { get; }
    /// <summary>False when the initializer is also used below the cut, so it must not change.</summary>
    public bool Trainable { get; set; } = true;

    public int Length => Value.Length;

    public void ZeroGrad() => Array.Clear(Grad);

    /// <summary>The value in the initializer's own layout.</summary>
    public float[] OnnxValue()
    {
        if (!Transposed)
            return (float[])Value.Clone();
        // Value is [cols, rows] of the ONNX [rows, cols] tensor.
        int rows = (int)OnnxDims[0], cols = (int)OnnxDims[1];
        var result = new float[Value.Length];
        for (var r = 0; r < rows; r++)
            for (var c = 0; c < cols; c++)
                result[r * cols + c] = Value[c * rows + r];
        return result;
    }

    public static float[] Transpose(float[] data, int rows, int cols)
    {
        var result = new float[data.Length];
        for (var r = 0; r < rows; r++)
            for (var c = 0; c < cols; c++)
                result[c * rows + r] = data[r * cols + c];
        return result;
    }
}
