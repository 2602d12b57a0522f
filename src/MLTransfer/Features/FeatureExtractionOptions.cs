using MLTransfer.Images;

namespace MLTransfer.Features;

/// <summary>How feature extraction runs.</summary>
public sealed record FeatureExtractionOptions
{
    /// <summary>Images per ONNX Runtime call. Larger batches amortise per-call overhead; 32 is near the CPU optimum.</summary>
    public int BatchSize { get; init; } = 8;
    /// <summary>Parallel image decoders; 0 means one per core.</summary>
    public int DecodeThreads { get; init; }
    /// <summary>ONNX Runtime intra-op threads; 0 means one per core.</summary>
    public int InferenceThreads { get; init; }
    /// <summary>Limits for decoding untrusted images.</summary>
    public ImageDecodeOptions Decode { get; init; } = ImageDecodeOptions.Default;
    /// <summary>Receives progress after each batch.</summary>
    public IProgress<ExtractionProgress>? Progress { get; init; }
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
