namespace MLTransfer.FineTuning;

/// <summary>
/// ONNX BatchNormalization in inference form: <c>(x − mean)/√(var + ε) · scale + B</c>. Scale and B are
/// trained; the running statistics stay fixed, the usual choice when fine-tuning on small data, where
/// batch statistics of a few dozen images would be too noisy.
/// </summary>
internal sealed class BatchNormLayer : Layer
{
    private readonly float[] _mean, _invStd;

    public BatchNormLayer(string name, string input, string output, Parameter scale, Parameter bias, float[] mean, float[] variance, float epsilon)
        : base(name, "BatchNormalization", [input], output)
    {
        Scale = scale;
        Bias = bias;
        _mean = mean;
        _invStd = variance.Select(v => 1f / MathF.Sqrt(v + epsilon)).ToArray();
    }

    public Parameter Scale { get; }
    public Parameter Bias { get; }
    public override IReadOnlyList<Parameter> Parameters => [Scale, Bias];

    public override Act Forward(IReadOnlyList<Act> inputs)
    {
        var x = inputs[0];
        var y = x.ZerosLike();
        for (var c = 0; c < x.C; c++)
        {
            var a = Scale.Value[c] * _invStd[c];
            var b = Bias.Value[c] - _mean[c] * a;
            var src = x.ChannelRow(c);
            var dst = y.ChannelRow(c);
            for (var i = 0; i < src.Length; i++)
                dst[i] = src[i] * a + b;
        }
        return y;
    }

    public override void Backward(IReadOnlyList<Act> inputs, Act output, Act gradOutput, IReadOnlyList<Act?> gradInputs)
    {
        var x = inputs[0];
        var dx = gradInputs[0];
        for (var c = 0; c < x.C; c++)
        {
            var src = x.ChannelRow(c);
            var dy = gradOutput.ChannelRow(c);
            double dScale = 0, dBias = 0;
            for (var i = 0; i < src.Length; i++)
            {
                dScale += dy[i] * (src[i] - _mean[c]) * _invStd[c];
                dBias += dy[i];
            }
            Scale.Grad[c] += (float)dScale;
            Bias.Grad[c] += (float)dBias;
            if (dx is null)
                continue;
            var a = Scale.Value[c] * _invStd[c];
            var d = dx.ChannelRow(c);
            for (var i = 0; i < d.Length; i++)
                d[i] += dy[i] * a;
        }
    }
}
