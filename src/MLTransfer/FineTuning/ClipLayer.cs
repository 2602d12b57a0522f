namespace MLTransfer.FineTuning;

/// <summary>ONNX Clip, and Relu as Clip(0, +∞). MobileNet's ReLU6 is Clip(0, 6).</summary>
internal sealed class ClipLayer : Layer
{
    private readonly float _min, _max;

    public ClipLayer(string name, string opType, string input, string output, float min, float max)
        : base(name, opType, [input], output)
    {
        (_min, _max) = (min, max);
    }

    public override Act Forward(IReadOnlyList<Act> inputs)
    {
        var x = inputs[0];
        var y = x.ZerosLike();
        for (var i = 0; i < x.Data.Length; i++)
            y.Data[i] = Math.Clamp(x.Data[i], _min, _max);
        return y;
    }

    public override void Backward(IReadOnlyList<Act> inputs, Act output, Act gradOutput, IReadOnlyList<Act?> gradInputs)
    {
        if (gradInputs[0] is not { } dx)
            return;
        var x = inputs[0].Data;
        // The gradient passes only where the input was strictly inside the range (0 at the kinks, as PyTorch does).
        for (var i = 0; i < x.Length; i++)
            if (x[i] > _min && x[i] < _max)
                dx.Data[i] += gradOutput.Data[i];
    }
}
