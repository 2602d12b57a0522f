using Microsoft.Extensions.Logging;

namespace MLTransfer.Training;

/// <summary>
/// Sends a run's progress lines to an app's <see cref="ILogger"/> instead of a callback: lines the library marks
/// <c>warning:</c> are logged as warnings, the rest as information, each as a structured <c>Line</c>.
/// </summary>
/// <example>
/// <code>
/// var options = new TransferLearningOptions { Backbone = "mobilenet-v2" }.WithLogger(logger);
/// </code>
/// </example>
/// <remarks>
/// An extension rather than an options property, so the command-line tool (which keeps a plain callback) never
/// loads the logging assembly.
/// </remarks>
public static class LoggerOptionsExtensions
{
    /// <summary>These options, logging to <paramref name="logger"/>.</summary>
    public static TransferLearningOptions WithLogger(this TransferLearningOptions options, ILogger logger) => options with { Log = Lines(logger) };

    /// <summary>These options, logging to <paramref name="logger"/>.</summary>
    public static ImageClassificationEstimator.Options WithLogger(this ImageClassificationEstimator.Options options, ILogger logger) => options with { Log = Lines(logger) };

    /// <summary>These options, logging to <paramref name="logger"/>.</summary>
    public static ShardExtractionOptions WithLogger(this ShardExtractionOptions options, ILogger logger) => options with { Log = Lines(logger) };

    private static Action<string> Lines(ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(logger);
        return line =>
        {
            if (line.StartsWith("warning: ", StringComparison.Ordinal))
                logger.LogWarning("{Line}", line["warning: ".Length..]);
            else
                logger.LogInformation("{Line}", line);
        };
    }
}
