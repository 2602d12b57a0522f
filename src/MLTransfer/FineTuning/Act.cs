namespace MLTransfer.FineTuning;

/// <summary>
/// An activation tensor of a batch, stored channel-major as <c>[C, N, H, W]</c> (not ONNX's NCHW).
/// </summary>
/// <remarks>
/// With one channel of the whole batch contiguous, a 1x1 convolution or a Gemm over a batch is a single
/// matrix product whose inner loops run over N·H·W values — long vectors for TensorPrimitives even at the
/// 7×7 top of a MobileNet, where per-image rows would be only 49 floats long. A vector <c>[F]</c> per
/// image is <c>[F, N, 1, 1]</c>.
/// </remarks>
internal sealed class Act
{
    public Act(int c, int n, int h, int w, float[]? data = null)
    {
        if (c <= 0 || n <= 0 || h <= 0 || w <= 0)
            throw new ArgumentException($"Invalid activation shape [{c},{n},{h},{w}].");
        C = c; N = n; H = h; W = w;
        Data = data ?? new float[checked(c * n * h * w)];
        if (Data.Length != c * n * h * w)
            throw new ArgumentException($"Activation [{c},{n},{h},{w}] needs {c * n * h * w} floats, got {Data.Length}.");
    }

    public int C { get; }
    public int N { get; }
    public int H { get; }
    public int W { get; }
    public float[] Data { get; }

    /// <summary>Floats of one channel of one image (H·W).</summary>
    public int Plane => H * W;
    /// <summary>Floats of one channel over the batch (N·H·W).</summary>
    public int Row => N * H * W;
    /// <summary>Floats of one image (C·H·W).</summary>
    public int PerImage => C * H * W;

    public Span<float> ChannelRow(int c) => Data.AsSpan(c * Row, Row);

    public Act ZerosLike() => new(C, N, H, W);

    public bool SameShape(Act other) => C == other.C && N == other.N && H == other.H && W == other.W;

    public string Shape => $"[C={C}, N={N}, H={H}, W={W}]";

    /// <summary>Builds a batch from per-image tensors in ONNX order <c>[C, H, W]</c>.</summary>
    public static Act FromImages(IReadOnlyList<float[]> images, int c, int h, int w)
    {
        var act = new Act(c, images.Count, h, w);
        var plane = h * w;
        for (var n = 0; n < images.Count; n++)
        {
            var image = images[n];
            if (image.Length != c * plane)
                throw new ArgumentException($"Image {n} has {image.Length} floats, expected {c * plane}.");
            for (var ch = 0; ch < c; ch++)
                image.AsSpan(ch * plane, plane).CopyTo(act.Data.AsSpan((ch * act.N + n) * plane, plane));
        }
        return act;
    }

    /// <summary>One image back in ONNX order <c>[C, H, W]</c>.</summary>
    public float[] Image(int n)
    {
        var result = new float[PerImage];
        for (var ch = 0; ch < C; ch++)
            Data.AsSpan((ch * N + n) * Plane, Plane).CopyTo(result.AsSpan(ch * Plane, Plane));
        return result;
    }
}
