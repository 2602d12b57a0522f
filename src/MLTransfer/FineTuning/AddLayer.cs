using System.Numerics.Tensors;

namespace MLTransfer.FineTuning;

/// <summary>ONNX Add of two activations of the same shape: the residual connection.</summary>
internal sealed class AddLayer : Layer
{
    public AddLayer(string name, string a, string b, string output) : base(name, "Add", [a, b], output) { }

    public override Act Forward(IReadOnlyList<Act> inputs)
    {
        var (a, b) = (inputs[0], inputs[1]);
        if (!a.SameShape(b))
            throw new InvalidOperationException($"Add '{Name}': shapes {a.Shape} and {b.Shape} differ (broadcasting is not supported).");
        var y = a.ZerosLike();
        TensorPrimitives.Add(a.Data, b.Data, y.Data);
        return y;
    }

    public override void Backward(IReadOnlyList<Act> inputs, Act output, Act gradOutput, IReadOnlyList<Act?> gradInputs)
    {
        foreach (var dx in gradInputs)
            if (dx is not null)
                TensorPrimitives.Add(dx.Data, gradOutput.Data, dx.Data);
    }
}
