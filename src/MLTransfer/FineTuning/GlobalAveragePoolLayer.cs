using System.Numerics.Tensors;

namespace MLTransfer.FineTuning;

/// <summary>ONNX GlobalAveragePool: <c>[C,N,H,W]</c> → <c>[C,N,1,1]</c>.</summary>
internal sealed class GlobalAveragePoolLayer : Layer
{
    public GlobalAveragePoolLayer(string name, string input, string output) : base(name, "GlobalAveragePool", [input], output) { }

    public override Act Forward(IReadOnlyList<Act> inputs)
    {
        var x = inputs[0];
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
