namespace MLTransfer.FineTuning;

/// <summary>
/// ONNX Flatten with axis 1: <c>[C,N,H,W]</c> → <c>[C·H·W, N, 1, 1]</c>, feature index <c>c·H·W + h·W + w</c>
/// as in NCHW. For the usual <c>[C,N,1,1]</c> input the data does not move.
/// </summary>
internal sealed class FlattenLayer : Layer
{
    public FlattenLayer(string name, string input, string output) : base(name, "Flatten", [input], output) { }

    public override Act Forward(IReadOnlyList<Act> inputs)
    {
        var x = inputs[0];
        var y = new Act(x.PerImage, x.N, 1, 1);
        var plane = x.Plane;
        for (var c = 0; c < x.C; c++)
            for (var n = 0; n < x.N; n++)
                for (var s = 0; s < plane; s++)
                    y.Data[(c * plane + s) * x.N + n] = x.Data[(c * x.N + n) * plane + s];
        return y;
    }

    public override void Backward(IReadOnlyList<Act> inputs, Act output, Act gradOutput, IReadOnlyList<Act?> gradInputs)
    {
        if (gradInputs[0] is not { } dx)
            return;
        var plane = dx.Plane;
        for (var c = 0; c < dx.C; c++)
            for (var n = 0; n < dx.N; n++)
                for (var s = 0; s < plane; s++)
                    dx.Data[(c * dx.N + n) * plane + s] += gradOutput.Data[(c * plane + s) * dx.N + n];
    }
}
