using System.Numerics.Tensors;

namespace MLTransfer.FineTuning;

/// <summary>
/// ONNX Conv (2-D, NOTSET/VALID padding) with groups, strides, dilations and asymmetric pads: depthwise
/// and 1x1 convolutions are the special cases MobileNets are made of.
/// </summary>
/// <remarks>
/// Each group is an im2col matrix product: <c>col [Cin/G·kh·kw, N·Ho·Wo]</c> times the group's weights.
/// A 1x1 stride-1 unpadded convolution skips im2col because, in the channel-major layout, the input
/// rows already are the col matrix.
/// </remarks>
internal sealed class ConvLayer : Layer
{
    private readonly int _cin, _cout, _group, _kh, _kw, _sh, _sw, _dh, _dw, _padT, _padL, _padB, _padR;

    public ConvLayer(string name, string input, string output, Parameter weight, Parameter? bias, int group,
        int[] strides, int[] dilations, int[] pads)
        : base(name, "Conv", [input], output)
    {
        if (weight.OnnxDims.Length != 4)
            throw new ArgumentException($"Conv '{name}': only 2-D convolutions are supported (weight rank {weight.OnnxDims.Length}).");
        Weight = weight;
        Bias = bias;
        _cout = (int)weight.OnnxDims[0];
        _group = group;
        _cin = (int)weight.OnnxDims[1] * group;
        _kh = (int)weight.OnnxDims[2];
        _kw = (int)weight.OnnxDims[3];
        (_sh, _sw) = (strides[0], strides[1]);
        (_dh, _dw) = (dilations[0], dilations[1]);
        (_padT, _padL, _padB, _padR) = (pads[0], pads[1], pads[2], pads[3]);
        if (_cout % group != 0)
            throw new ArgumentException($"Conv '{name}': {_cout} output channels do not divide into {group} groups.");
        if (bias is not null && bias.Length != _cout)
            throw new ArgumentException($"Conv '{name}': bias has {bias.Length} values for {_cout} channels.");
    }

    public Parameter Weight { get; }
    public Parameter? Bias { get; }
    public override IReadOnlyList<Parameter> Parameters => Bias is null ? [Weight] : [Weight, Bias];

    private int CinG => _cin / _group;
    private int CoutG => _cout / _group;
    private int K => CinG * _kh * _kw;
    private bool Direct => _kh == 1 && _kw == 1 && _sh == 1 && _sw == 1 && _padT == 0 && _padL == 0 && _padB == 0 && _padR == 0;

    private (int Ho, int Wo) OutSize(Act x) =>
        ((x.H + _padT + _padB - _dh * (_kh - 1) - 1) / _sh + 1, (x.W + _padL + _padR - _dw * (_kw - 1) - 1) / _sw + 1);

    public override Act Forward(IReadOnlyList<Act> inputs)
    {
        var x = inputs[0];
        if (x.C != _cin)
            throw new InvalidOperationException($"Conv '{Name}' expects {_cin} input channels, got {x.C}.");
        var (ho, wo) = OutSize(x);
        var y = new Act(_cout, x.N, ho, wo);
        var p = y.Row;
        if (Bias is not null)
            for (var o = 0; o < _cout; o++)
                y.ChannelRow(o).Fill(Bias.Value[o]);
        var k = K;
        GroupLoop(k, p, g =>
        {
            var (col, offset) = Columns(x, g, ho, wo);
            MatOps.Forward(Weight.Value.AsSpan(g * CoutG * k, CoutG * k), CoutG, k, col, offset, y.Data, g * CoutG * p, p);
        });
        return y;
    }

    public override void Backward(IReadOnlyList<Act> inputs, Act output, Act gradOutput, IReadOnlyList<Act?> gradInputs)
    {
        var x = inputs[0];
        var dy = gradOutput;
        var p = dy.Row;
        var k = K;
        if (Bias is not null)
            for (var o = 0; o < _cout; o++)
                Bias.Grad[o] += TensorPrimitives.Sum(dy.ChannelRow(o));
        var dx = gradInputs[0];
        GroupLoop(k, p, g =>
        {
            var (col, offset) = Columns(x, g, dy.H, dy.W);
            MatOps.GradWeights(dy.Data, g * CoutG * p, col, offset, Weight.Grad, g * CoutG * k, CoutG, k, p);
            if (dx is null)
                return;
            var w = Weight.Value.AsSpan(g * CoutG * k, CoutG * k);
            if (Direct)
            {
                MatOps.GradInput(w, CoutG, k, dy.Data, g * CoutG * p, dx.Data, g * CinG * x.Row, p);
            }
            else
            {
                var dcol = new float[k * p];
                MatOps.GradInput(w, CoutG, k, dy.Data, g * CoutG * p, dcol, 0, p);
                Col2Im(dcol, dx, g, dy.H, dy.W);
            }
        });
    }

    /// <summary>Grouped convolutions are parallel over groups; a dense one is parallel inside its products.</summary>
    private void GroupLoop(int k, int p, Action<int> body)
    {
        if (_group == 1)
            body(0);
        else
            MatOps.For(_group, (long)CoutG * k * p, body);
    }

    private (float[] Data, int Offset) Columns(Act x, int g, int ho, int wo)
    {
        if (Direct)
            return (x.Data, g * CinG * x.Row);
        var p = x.N * ho * wo;
        var col = new float[K * p];
        for (var ci = 0; ci < CinG; ci++)
            for (var ky = 0; ky < _kh; ky++)
                for (var kx = 0; kx < _kw; kx++)
                {
                    var r = (ci * _kh + ky) * _kw + kx;
                    var channel = g * CinG + ci;
                    for (var n = 0; n < x.N; n++)
                    {
                        var src = (channel * x.N + n) * x.Plane;
                        var dst = r * p + n * ho * wo;
                        for (var oy = 0; oy < ho; oy++)
                        {
                            var iy = oy * _sh - _padT + ky * _dh;
                            if (iy < 0 || iy >= x.H)
                                continue; // col is zero-initialised: padding contributes nothing
                            for (var ox = 0; ox < wo; ox++)
                            {
                                var ix = ox * _sw - _padL + kx * _dw;
                                if (ix >= 0 && ix < x.W)
                                    col[dst + oy * wo + ox] = x.Data[src + iy * x.W + ix];
                            }
                        }
                    }
                }
        return (col, 0);
    }

    private void Col2Im(float[] dcol, Act dx, int g, int ho, int wo)
    {
        var p = dx.N * ho * wo;
        for (var ci = 0; ci < CinG; ci++)
            for (var ky = 0; ky < _kh; ky++)
                for (var kx = 0; kx < _kw; kx++)
                {
                    var r = (ci * _kh + ky) * _kw + kx;
                    var channel = g * CinG + ci;
                    for (var n = 0; n < dx.N; n++)
                    {
                        var dst = (channel * dx.N + n) * dx.Plane;
                        var src = r * p + n * ho * wo;
                        for (var oy = 0; oy < ho; oy++)
                        {
                            var iy = oy * _sh - _padT + ky * _dh;
                            if (iy < 0 || iy >= dx.H)
                                continue;
                            for (var ox = 0; ox < wo; ox++)
                            {
                                var ix = ox * _sw - _padL + kx * _dw;
                                if (ix >= 0 && ix < dx.W)
                                    dx.Data[dst + iy * dx.W + ix] += dcol[src + oy * wo + ox];
                            }
                        }
                    }
                }
    }
}
