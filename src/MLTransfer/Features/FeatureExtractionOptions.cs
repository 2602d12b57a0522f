using MLTransfer.Images;

namespace MLTransfer.Features;

/// <summary>How feature extraction runs.</summary>
public sealed record FeatureExtractionOptions
{
    /// <summary>Largest <see cref="BatchSize"/> accepted: beyond it the input tensor alone outgrows memory.</summary>
    public const int MaxBatchSize = 1024;

    /// <summary>Images per ONNX Runtime call; small batches keep the activations in CPU cache (docs/design-notes.md).</summary>
    public int BatchSize { get; init; } = 8;
    /// <summary>Parallel image decoders; 0 means one per core.</summary>
    public int DecodeThreads { get; init; }
    /// <summary>
    /// Nice value (0–19, Linux) of the decoder threads, so they yield the cores to ONNX Runtime while a batch
    /// runs and decode in the gaps; 0 leaves them at normal priority (docs/design-notes.md).
    /// </summary>
    public int DecoderNiceness { get; init; } = 5;
    /// <summary>ONNX Runtime intra-op threads; 0 means one per core.</summary>
    public int InferenceThreads { get; init; }
    /// <summary>Limits for decoding untrusted images.</summary>
    public ImageDecodeOptions Decode { get; init; } = ImageDecodeOptions.Default;
    /// <summary>Receives progress after each batch.</summary>
    public IProgress<ExtractionProgress>? Progress { get; init; }

    /// <summary>The first setting out of range, or null when all are valid.</summary>
    internal string? Problem() =>
        BatchSize is < 1 or > MaxBatchSize ? $"BatchSize must be from 1 to {MaxBatchSize}, not {BatchSize}"
        : DecodeThreads is < 0 or > 1024 ? $"DecodeThreads must be from 0 (one per core) to 1024, not {DecodeThreads}"
        : InferenceThreads is < 0 or > 1024 ? $"InferenceThreads must be from 0 (one per core) to 1024, not {InferenceThreads}"
        : DecoderNiceness is < 0 or > 19 ? $"DecoderNiceness must be from 0 to 19, not {DecoderNiceness}"
        : null;
}

/// <summary>Progress of a feature extraction.</summary>
/// <param name="Done">Images finished (extracted, from cache or skipped).</param>
/// <param name="Total">Images in the run.</param>
/// <param name="FromCache">Images whose features came from the cache.</param>
/// <param name="Skipped">Images that could not be used.</param>
/// <param name="Elapsed">Time since the start.</param>
public sealed record ExtractionProgress(int Done, int Total, int FromCache, int Skipped, TimeSpan Elapsed)
{
    /// <summary>Images per second so far.</summary>
    public double ImagesPerSecond => Elapsed.TotalSeconds > 0 ? Done / Elapsed.TotalSeconds : 0;
    /// <summary>Estimated time left at the current rate.</summary>
    public TimeSpan Remaining => ImagesPerSecond > 0 ? TimeSpan.FromSeconds((Total - Done) / ImagesPerSecond) : TimeSpan.Zero;
}
