using Microsoft.ML.OnnxRuntime;
using MLTransfer.Backbones;

namespace MLTransfer.Features;

/// <summary>
/// A batched ONNX Runtime session over a prepared backbone (raw pixels in, flat features out).
/// ML.NET's ApplyOnnxModel feeds one row per call; training runs the same graph here in batches.
/// </summary>
internal sealed class BackboneSession : IDisposable
{
    private readonly InferenceSession _session;

    /// <summary>Creates a session for a prepared backbone.</summary>
    /// <param name="backbone">The prepared graph.</param>
    /// <param name="intraOpThreads">Threads for one operator; 0 means one per core.</param>
    /// <param name="allowSpinning">
    /// Let ONNX Runtime's worker threads spin between operators (its default). Off for extraction, where the
    /// decoder threads need the cores; on, a single call returns sooner on an idle machine.
    /// </param>
    public BackboneSession(PreparedBackbone backbone, int intraOpThreads = 0, bool allowSpinning = false)
    {
        Backbone = backbone;
        AllowSpinning = allowSpinning;
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            IntraOpNumThreads = intraOpThreads > 0 ? intraOpThreads : Environment.ProcessorCount,
            InterOpNumThreads = 1,
        };
        // Spinning worker threads would steal the cores the image decoders need while a batch is
        // being assembled; blocking costs a few microseconds per operator and frees them.
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", allowSpinning ? "1" : "0");
        _session = new InferenceSession(backbone.OnnxBytes, options);
        var batch = _session.InputMetadata[PreparedBackbone.InputName].Dimensions[0];
        FixedBatchSize = batch > 0 ? batch : null;
    }

    /// <summary>
    /// The batch size the graph is pinned to (e.g. 1 for a graph exported with fixed shapes), or null when its batch
    /// dimension is dynamic. <see cref="Run"/> splits larger requests into calls of this size.
    /// </summary>
    public int? FixedBatchSize { get; }

    /// <summary>Whether ONNX Runtime's worker threads spin between operators.</summary>
    public bool AllowSpinning { get; }

    /// <summary>The backbone this session runs.</summary>
    public PreparedBackbone Backbone { get; }

    /// <summary>Floats per image in the input (3 × height × width).</summary>
    public int InputLength => 3 * Backbone.InputHeight * Backbone.InputWidth;

    /// <summary>Runs <paramref name="count"/> images (raw pixel planes, back to back) and returns one feature vector each.</summary>
    public float[][] Run(float[] pixels, int count)
    {
        if (pixels.Length < count * InputLength)
            throw new ArgumentException($"Expected {count * InputLength} floats for {count} images, got {pixels.Length}.", nameof(pixels));
        if (FixedBatchSize is not { } fixedBatch || fixedBatch == count)
            return RunBatch(pixels.AsMemory(0, count * InputLength), count);

        var result = new float[count][];
        float[]? padded = null;
        for (var start = 0; start < count; start += fixedBatch)
        {
            var n = Math.Min(fixedBatch, count - start);
            var slice = pixels.AsMemory(start * InputLength, n * InputLength);
            if (n < fixedBatch)
            {
                // A pinned graph only takes whole batches: the missing images are zeros whose features are dropped.
                padded = new float[fixedBatch * InputLength];
                slice.Span.CopyTo(padded);
                slice = padded;
            }
            var part = RunBatch(slice, fixedBatch);
            Array.Copy(part, 0, result, start, n);
        }
        return result;
    }

    private float[][] RunBatch(Memory<float> pixels, int count)
    {
        var shape = new long[] { count, 3, Backbone.InputHeight, Backbone.InputWidth };
        using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, pixels, shape);
        using var run = new RunOptions();
        using var outputs = _session.Run(run, [PreparedBackbone.InputName], [input], [PreparedBackbone.OutputName]);
        var flat = outputs[0].GetTensorDataAsSpan<float>();
        var size = Backbone.FeatureSize;
        if (flat.Length != count * size)
            throw new MLTransferException($"The backbone returned {flat.Length} values for {count} images, expected {count * size}",
                Backbone.Description.Name, "The backbone graph does not match its description; check BackboneDescription.FeatureTensor (CLI: --feature-tensor)");
        var result = new float[count][];
        for (var i = 0; i < count; i++)
            result[i] = flat.Slice(i * size, size).ToArray();
        return result;
    }

    /// <inheritdoc />
    public void Dispose() => _session.Dispose();
}
