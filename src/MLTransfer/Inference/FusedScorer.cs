using System.Buffers;
using Microsoft.ML.OnnxRuntime;
using MLTransfer.Backbones;
using MLTransfer.Export;
using MLTransfer.Images;

namespace MLTransfer.Inference;

/// <summary>
/// Runs the fused graph (raw pixels → backbone → head → softmax, see <see cref="FusedOnnxExporter"/>) in one
/// ONNX Runtime session. Concurrent callers call it directly: a session runs concurrent calls safely, and
/// joining them into batches measured no faster (docs/design-notes.md, "Serving").
/// </summary>
internal sealed class FusedScorer : IImageScorer
{
    /// <summary>Most images in one call of <see cref="Score(IReadOnlyList{DecodedImage})"/>: bounds ONNX Runtime's arena, which grows to the largest batch it has run.</summary>
    public const int MaxBatch = 8;

    private static readonly string[] InputNames = [PreparedBackbone.InputName];

    // The features stay inside ONNX Runtime: the graph computes the out-of-domain score from them itself.
    private readonly string[] _outputNames;

    private readonly InferenceSession _session;
    // Only read by ONNX Runtime, so concurrent calls share it.
    private readonly RunOptions _run = new();
    private readonly bool _bgr;
    private int _disposed;
    private int _released;
    // Calls inside ONNX Runtime: the session is freed only after the last one, so a Dispose that races a
    // call cannot pull native memory from under it.
    private int _active;

    /// <summary>Creates the session for a fused graph.</summary>
    /// <param name="onnx">The fused model.</param>
    /// <param name="width">Input width.</param>
    /// <param name="height">Input height.</param>
    /// <param name="classes">Probabilities per image.</param>
    /// <param name="order">Order of the colour planes the graph takes.</param>
    /// <param name="serving">
    /// Tune for many concurrent calls (a server) rather than lone ones. A lone call gets every core, with worker
    /// threads spinning between operators so it returns sooner. A server's calls each run on their caller's
    /// thread alone: the concurrent requests already keep the cores busy, and worker threads (spinning or not)
    /// would only contend with the decoders and the other calls (docs/design-notes.md, "Serving").
    /// </param>
    public FusedScorer(byte[] onnx, int width, int height, int classes, ChannelOrder order, bool serving)
    {
        (Width, Height, Classes, _bgr) = (width, height, classes, order == ChannelOrder.Bgr);
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = serving ? 1 : Environment.ProcessorCount,
            InterOpNumThreads = 1,
        };
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", serving ? "0" : "1");
        _session = new InferenceSession(onnx, options);
        _outputNames = _session.OutputMetadata.ContainsKey(FusedOnnxExporter.OutOfDomainOutputName)
            ? [FusedOnnxExporter.OutputName, FusedOnnxExporter.OutOfDomainOutputName]
            : [FusedOnnxExporter.OutputName];
    }

    public int Width { get; }
    public int Height { get; }
    public int Classes { get; }

    /// <summary>Floats of one image: 3 × height × width.</summary>
    public int InputLength => 3 * Width * Height;

    /// <summary>Class probabilities and out-of-domain score of one decoded image (at <see cref="Width"/> × <see cref="Height"/>).</summary>
    public FusedScore Score(DecodedImage image)
    {
        var pixels = Planes(image);
        try
        {
            return Run([pixels])[0];
        }
        finally
        {
            ArrayPool<float>.Shared.Return(pixels);
        }
    }

    private float[] Planes(DecodedImage image)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (image.Width != Width || image.Height != Height)
            throw new ArgumentException($"The image is {image.Width}×{image.Height}; the model takes {Width}×{Height}.", nameof(image));
        // Rented: a plane buffer is over the large-object threshold, and one per request would churn gen-2 collections.
        var pixels = ArrayPool<float>.Shared.Rent(InputLength);
        image.WritePlanes(pixels.AsSpan(0, InputLength), _bgr);
        return pixels;
    }

    /// <summary>Class probabilities and out-of-domain scores of several decoded images, in one call per <see cref="MaxBatch"/> images.</summary>
    public FusedScore[] Score(IReadOnlyList<DecodedImage> images)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var result = new FusedScore[images.Count];
        for (var start = 0; start < images.Count; start += MaxBatch)
        {
            var n = Math.Min(MaxBatch, images.Count - start);
            var buffers = new float[n][];
            try
            {
                for (var i = 0; i < n; i++)
                    buffers[i] = Planes(images[start + i]);
                Run(buffers).CopyTo(result, start);
            }
            finally
            {
                foreach (var buffer in buffers)
                {
                    if (buffer is not null)
                        ArrayPool<float>.Shared.Return(buffer);
                }
            }
        }
        return result;
    }

    private FusedScore[] Run(float[][] images)
    {
        Interlocked.Increment(ref _active);
        try
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            return RunSession(images);
        }
        finally
        {
            if (Interlocked.Decrement(ref _active) == 0 && Volatile.Read(ref _disposed) != 0)
                Release();
        }
    }

    private FusedScore[] RunSession(float[][] images)
    {
        var n = images.Length;
        var length = InputLength;
        float[]? joined = null;
        try
        {
            Memory<float> input;
            if (n == 1)
            {
                input = images[0].AsMemory(0, length);
            }
            else
            {
                joined = ArrayPool<float>.Shared.Rent(n * length);
                for (var i = 0; i < n; i++)
                    images[i].AsSpan(0, length).CopyTo(joined.AsSpan(i * length, length));
                input = joined.AsMemory(0, n * length);
            }
            using var value = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, input, [n, 3, Height, Width]);
            using var outputs = _session.Run(_run, InputNames, [value], _outputNames);
            var flat = outputs[0].GetTensorDataAsSpan<float>();
            if (flat.Length != n * Classes)
                throw new InvalidOperationException($"the graph returned {flat.Length} values for {n} images of {Classes} classes");
            var distances = outputs.Count > 1 ? outputs[1].GetTensorDataAsSpan<float>() : default;
            if (outputs.Count > 1 && distances.Length != n)
                throw new InvalidOperationException($"the graph returned {distances.Length} out-of-domain scores for {n} images");
            var result = new FusedScore[n];
            for (var i = 0; i < n; i++)
                result[i] = new FusedScore(flat.Slice(i * Classes, Classes).ToArray(), outputs.Count > 1 ? distances[i] : null);
            return result;
        }
        finally
        {
            if (joined is not null)
                ArrayPool<float>.Shared.Return(joined);
        }
    }

    /// <summary>Releases the session, at once or when the calls still running have returned.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0 && Volatile.Read(ref _active) == 0)
            Release();
    }

    private void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) != 0)
            return;
        _session.Dispose();
        _run.Dispose();
    }
}

/// <summary>What the fused graph answers for one image.</summary>
/// <param name="Probabilities">Class probabilities at the model's calibrated temperature.</param>
/// <param name="OutOfDomain">The out-of-domain score, or null for a model saved without reference features.</param>
internal readonly record struct FusedScore(float[] Probabilities, float? OutOfDomain);
