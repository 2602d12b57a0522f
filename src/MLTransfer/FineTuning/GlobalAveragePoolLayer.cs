using System.Numerics.Tensors;

namespace MLTransfer.FineTuning;

/// <summary>
/// ONNX GlobalAveragePool: <c>[C,N,H,W]</c> → <c>[C,N,1,1]</c>; also an AveragePool whose kernel covers the whole map
/// (how CNTK writes the global pool of ML.NET's ResNet-18), which computes the same thing.
/// </summary>
internal sealed class GlobalAveragePoolLayer : Layer
{
    private readonly (int H, int W)? _kernel;

    public GlobalAveragePoolLayer(string name, string input, string output) : base(name, "GlobalAveragePool", [input], output) { }

    /// <summary>An AveragePool with kernel <paramref name="kernel"/>, no padding: global when the map is exactly the kernel.</summary>
    public GlobalAveragePoolLayer(string name, string input, string output, (int H, int W) kernel) : base(name, "AveragePool", [input], output) =>
        _kernel = kernel;

    public override Act Forward(IReadOnlyList<Act> inputs)
    {
        var x = inputs[0];
        // Only the whole-map case is the same as a global pool; a smaller kernel slides and needs its own layer.
        if (_kernel is { } k && (k.H != x.H || k.W != x.W))
            throw new MLTransferException(
                $"Node '{Name}' (AveragePool) above the cut cannot be fine-tuned: its {k.H}×{k.W} kernel does not cover its {x.H}×{x.W} input, and only a whole-map AveragePool is supported",
                null, "Unfreeze fewer layers, or train only the head with 'mltransfer train'");
        var y = new Act(x.C, x.N, 1, 1);
        var plane = x.Plane;
        for (var i = 0; i < x.C * x.N; i++)
            y.Data[i] = TensorPrimitives.Sum(x.Data.AsSpan(i * plane, plane)) / plane;
        return y;
    }

    public override void Backward(IReadOnlyList<Act> inputs, Act output, Act gradOutput, IReadOnlyList<Act?> gradInputs)
    {
        if (gradInputs[0] is not { } dx)
            return;
        var plane = dx.Plane;
        for (var i = 0; i < dx.C * dx.N; i++)
        {
            var g = gradOutput.Data[i] / plane;
            var row = dx.Data.AsSpan(i * plane, plane);
            TensorPrimitives.Add(row, g, row);
        }
    }
}
