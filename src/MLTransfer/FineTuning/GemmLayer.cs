using System.Numerics.Tensors;

namespace MLTransfer.FineTuning;

/// <summary>
/// ONNX Gemm on a batch of vectors (<c>transA = 0</c>): <c>Y = alpha · X·B' + beta · C</c>, with the weight
/// held as <c>[out, in]</c> whatever transB says.
/// </summary>
internal sealed class GemmLayer : Layer
{
    private readonly float _alpha, _beta;

    public GemmLayer(string name, string input, string output, Parameter weight, Parameter? bias, float alpha, float beta)
        : base(name, "Gemm", [input], output)
    {
        Weight = weight;
        Bias = bias;
        (_alpha, _beta) = (alpha, beta);
        Out = weight.Transposed ? (int)weight.OnnxDims[1] : (int)weight.OnnxDims[0];
        In = weight.Length / Out;
        if (bias is not null && bias.Length != Out)
            throw new ArgumentException($"Gemm '{name}': only a bias of {Out} values (one per output) is supported, got {bias.Length}.");
    }

    public Parameter Weight { get; }
    public Parameter? Bias { get; }
    public int In { get; }
    public int Out { get; }
    public override IReadOnlyList<Parameter> Parameters => Bias is null ? [Weight] : [Weight, Bias];

    public override Act Forward(IReadOnlyList<Act> inputs)
    {
        var x = inputs[0];
        if (x.H != 1 || x.W != 1 || x.C != In)
            throw new InvalidOperationException($"Gemm '{Name}' expects [{In}] vectors, got {x.Shape}.");
        var y = new Act(Out, x.N, 1, 1);
        if (Bias is not null)
            for (var o = 0; o < Out; o++)
                y.ChannelRow(o).Fill(_beta * Bias.Value[o]);
        MatOps.Forward(Weight.Value, Out, In, x.Data, 0, y.Data, 0, x.N, _alpha);
        return y;
    }

    public override void Backward(IReadOnlyList<Act> inputs, Act output, Act gradOutput, IReadOnlyList<Act?> gradInputs)
    {
        var x = inputs[0];
        var n = x.N;
        if (Bias is not null)
            for (var o = 0; o < Out; o++)
                Bias.Grad[o] += _beta * TensorPrimitives.Sum(gradOutput.ChannelRow(o));
        MatOps.GradWeights(gradOutput.Data, 0, x.Data, 0, Weight.Grad, 0, Out, In, n, _alpha);
        if (gradInputs[0] is { } dx)
            MatOps.GradInput(Weight.Value, Out, In, gradOutput.Data, 0, dx.Data, 0, n, _alpha);
    }
}
