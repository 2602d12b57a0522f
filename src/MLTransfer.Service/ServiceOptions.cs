using System.Globalization;
using MLTransfer.Images;
using MLTransfer.Inference.Hosting;

namespace MLTransfer.Service;

/// <summary>Limits and settings of the prediction service, read from the command line or environment.</summary>
public sealed record ServiceOptions
{
    /// <summary>The model zip served and watched for changes (<c>--model</c> or <c>MLTRANSFER_MODEL</c>).</summary>
    public required string ModelPath { get; init; }
    /// <summary>Largest accepted image in bytes (<c>--max-image-bytes</c>); larger uploads get 413.</summary>
    public long MaxImageBytes { get; init; } = 8 * 1024 * 1024;
    /// <summary>Most files accepted by <c>/predict/batch</c> (<c>--max-batch-files</c>).</summary>
    public int MaxBatchFiles { get; init; } = 16;
    /// <summary>Classes listed in top-k when the request does not say (<c>--top-k</c>).</summary>
    public int DefaultTopK { get; init; } = 3;
    /// <summary>
    /// Most memory of images being decoded at once (<c>--decode-budget-mb</c>, in MiB); a request that does not
    /// fit gets 503 with Retry-After instead of growing the process. See <see cref="DecodeBudget"/>.
    /// </summary>
    public long DecodeBudgetBytes { get; init; } = DecodeBudget.DefaultCapacityBytes;
    /// <summary>Largest image in pixels, from its header (<c>--max-image-pixels</c>); larger ones get 400 before decoding.</summary>
    public long MaxImagePixels { get; init; } = ImageDecodeOptions.DefaultMaxPixels;
    /// <summary>
    /// Whether <c>GET /model</c> shows server paths: the model file's folder, the training data folder and
    /// where the backbone came from (<c>--expose-paths true</c>). Off by default: any client can read it.
    /// </summary>
    public bool ExposePaths { get; init; }
    /// <summary>Quiet time after a change of the model file before it is reloaded (<c>--reload-debounce-ms</c>).</summary>
    public TimeSpan ReloadDebounce { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Room for multipart boundaries and part headers on top of the image bytes.</summary>
    public const long MultipartOverhead = 64 * 1024;

    /// <summary>Largest request body of <c>/predict</c>.</summary>
    public long MaxSingleRequestBytes => MaxImageBytes + MultipartOverhead;

    /// <summary>Largest request body of <c>/predict/batch</c>.</summary>
    public long MaxBatchRequestBytes => MaxImageBytes * MaxBatchFiles + MultipartOverhead;

    /// <summary>Reads the options; throws a user-facing error when the model is not given or a number is malformed.</summary>
    public static ServiceOptions From(IConfiguration config)
    {
        var model = config["model"] ?? Environment.GetEnvironmentVariable("MLTRANSFER_MODEL");
        if (string.IsNullOrWhiteSpace(model))
            throw new MLTransferException("No model to serve", null,
                "Pass --model path/to/model.zip (or set MLTRANSFER_MODEL); train one with 'mltransfer train'");
        var defaults = new ServiceOptions { ModelPath = model };
        // Upper bounds keep derived sizes (the batch body limit is image bytes × files) far from overflow and
        // catch a slipped digit before it becomes a limit that protects nothing.
        return defaults with
        {
            MaxImageBytes = Number(config, "max-image-bytes", defaults.MaxImageBytes, 1L << 30),
            MaxBatchFiles = (int)Number(config, "max-batch-files", defaults.MaxBatchFiles, 1000),
            DefaultTopK = (int)Number(config, "top-k", defaults.DefaultTopK, 1000),
            ReloadDebounce = TimeSpan.FromMilliseconds(Number(config, "reload-debounce-ms", (long)defaults.ReloadDebounce.TotalMilliseconds, 3_600_000)),
            DecodeBudgetBytes = Number(config, "decode-budget-mb", defaults.DecodeBudgetBytes / (1024 * 1024), 1L << 20) * 1024 * 1024,
            MaxImagePixels = Number(config, "max-image-pixels", defaults.MaxImagePixels, 1_000_000_000),
            ExposePaths = Flag(config, "expose-paths"),
        };
    }

    private static bool Flag(IConfiguration config, string key)
    {
        var text = config[key];
        if (text is null)
            return false;
        if (bool.TryParse(text, out var value))
            return value;
        throw new MLTransferException($"--{key} must be true or false, got '{text}'", null, $"Pass --{key} true (a bare --{key} takes the next argument as its value)");
    }

    private static long Number(IConfiguration config, string key, long fallback, long max)
    {
        var text = config[key];
        if (text is null)
            return fallback;
        if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value <= 0)
            throw new MLTransferException($"--{key} must be a positive whole number, got '{text}'", null, $"Pass e.g. --{key} {fallback}");
        if (value > max)
            throw new MLTransferException($"--{key} must be at most {max}, got {value}", null, $"Pass e.g. --{key} {fallback}");
        return value;
    }
}
