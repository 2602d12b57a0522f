using System.Globalization;
using System.Text;
using Microsoft.Extensions.Options;
using MLTransfer.Images;
using MLTransfer.Inference.Hosting;

namespace MLTransfer.Service;

/// <summary>
/// Limits and settings of the prediction service: the configuration section <c>Service</c>, bound with the
/// Options pattern from appsettings.json, the environment (<c>Service__MaxImageBytes=…</c>) and the command
/// line (<c>--max-image-bytes …</c>, see <see cref="Settings"/>), and validated before the service listens.
/// </summary>
public sealed class ServiceOptions
{
    /// <summary>The configuration section.</summary>
    public const string Section = "Service";

    /// <summary>The model zip served and watched for changes (<c>--model</c>, or <c>MLTRANSFER_MODEL</c>).</summary>
    public string ModelPath { get; set; } = "";
    /// <summary>Largest accepted image in bytes (<c>--max-image-bytes</c>); larger uploads get 413.</summary>
    public long MaxImageBytes { get; set; } = 8 * 1024 * 1024;
    /// <summary>Most files accepted by <c>/predict/batch</c> (<c>--max-batch-files</c>).</summary>
    public int MaxBatchFiles { get; set; } = 16;
    /// <summary>Classes listed in top-k when the request does not say (<c>--top-k</c>).</summary>
    public int TopK { get; set; } = 3;
    /// <summary>
    /// Abstain (answer with no label) when the top calibrated probability is below this and the request has no
    /// <c>?minConfidence=</c> (<c>--min-confidence</c>, 0..1). Images the model judges out of domain are abstained on whatever it is.
    /// </summary>
    public double MinConfidence { get; set; }
    /// <summary>
    /// Most memory of images being decoded at once, in MiB (<c>--decode-budget-mb</c>); a request that does not
    /// fit gets 503 with Retry-After instead of growing the process. See <see cref="DecodeBudget"/>.
    /// </summary>
    public long DecodeBudgetMb { get; set; } = DecodeBudget.DefaultCapacityBytes / (1024 * 1024);
    /// <summary>Largest image in pixels, from its header (<c>--max-image-pixels</c>); larger ones get 400 before decoding.</summary>
    public long MaxImagePixels { get; set; } = ImageDecodeOptions.DefaultMaxPixels;
    /// <summary>
    /// Whether <c>GET /model</c> shows server paths: the model file's folder, the training data folder and
    /// where the backbone came from (<c>--expose-paths true</c>). Off by default: any client can read it.
    /// </summary>
    public bool ExposePaths { get; set; }
    /// <summary>Quiet time after a change of the model file before it is reloaded, in ms (<c>--reload-debounce-ms</c>).</summary>
    public long ReloadDebounceMs { get; set; } = 500;
    /// <summary>
    /// Where to send metrics over OTLP (HTTP/protobuf, e.g. <c>http://127.0.0.1:4318</c>; <c>--otlp-endpoint</c>).
    /// Empty: no OpenTelemetry exporter runs (the meters are still there for <c>dotnet-counters</c>).
    /// </summary>
    public string? OtlpEndpoint { get; set; }
    /// <summary>How often the OTLP exporter sends, in ms (<c>--otlp-interval-ms</c>).</summary>
    public long OtlpIntervalMs { get; set; } = 10_000;

    /// <summary>Room for multipart boundaries and part headers on top of the image bytes.</summary>
    public const long MultipartOverhead = 64 * 1024;

    /// <summary>Largest request body of <c>/predict</c>.</summary>
    public long MaxSingleRequestBytes => MaxImageBytes + MultipartOverhead;

    /// <summary>Largest request body of <c>/predict/batch</c>.</summary>
    public long MaxBatchRequestBytes => MaxImageBytes * MaxBatchFiles + MultipartOverhead;

    /// <summary>The decode budget in bytes.</summary>
    public long DecodeBudgetBytes => DecodeBudgetMb * 1024 * 1024;

    /// <summary>The reload debounce as a time span.</summary>
    public TimeSpan ReloadDebounce => TimeSpan.FromMilliseconds(ReloadDebounceMs);

    /// <summary>One setting: its command-line switch, its property in the section, what it is and its bounds.</summary>
    /// <param name="Switch">Command-line switch, e.g. <c>--max-image-bytes</c>.</param>
    /// <param name="Property">Property of <see cref="ServiceOptions"/> (and key in the section).</param>
    /// <param name="Description">What it sets, for <c>--help</c>.</param>
    /// <param name="Kind">How its value is written.</param>
    /// <param name="Max">Largest value accepted (whole numbers only).</param>
    public sealed record Setting(string Switch, string Property, string Description, SettingKind Kind, long Max = 0);

    /// <summary>How a setting's value is written.</summary>
    public enum SettingKind
    {
        /// <summary>Any text.</summary>
        Text,
        /// <summary>A positive whole number.</summary>
        Count,
        /// <summary>true or false.</summary>
        Flag,
        /// <summary>An absolute http:// or https:// address.</summary>
        Address,
        /// <summary>A number from 0 to 1.</summary>
        Probability,
    }

    /// <summary>
    /// Every setting. Upper bounds keep derived sizes (the batch body limit is image bytes × files) far from
    /// overflow and catch a slipped digit before it becomes a limit that protects nothing.
    /// </summary>
    public static IReadOnlyList<Setting> Settings { get; } =
    [
        new("--model", nameof(ModelPath), "model zip to serve (written by 'mltransfer train'); reloaded when the file changes; also MLTRANSFER_MODEL", SettingKind.Text),
        new("--max-image-bytes", nameof(MaxImageBytes), "largest image accepted, in bytes (413 above)", SettingKind.Count, 1L << 30),
        new("--max-image-pixels", nameof(MaxImagePixels), "largest image accepted, in pixels, read from its header (400 above)", SettingKind.Count, 1_000_000_000),
        new("--max-batch-files", nameof(MaxBatchFiles), "most files in one /predict/batch request (400 above)", SettingKind.Count, 1000),
        new("--top-k", nameof(TopK), "classes listed in topK when the request has no ?topK=", SettingKind.Count, 1000),
        new("--min-confidence", nameof(MinConfidence), "abstain (no label) below this top probability when the request has no ?minConfidence=; out-of-domain images are abstained on anyway", SettingKind.Probability),
        new("--decode-budget-mb", nameof(DecodeBudgetMb), "memory of images being decoded at once, in MiB (503 with Retry-After above)", SettingKind.Count, 1L << 20),
        new("--reload-debounce-ms", nameof(ReloadDebounceMs), "quiet time after the model file changes before it is reloaded", SettingKind.Count, 3_600_000),
        new("--expose-paths", nameof(ExposePaths), "show server paths in GET /model and reload errors", SettingKind.Flag),
        new("--otlp-endpoint", nameof(OtlpEndpoint), "send metrics by OTLP (HTTP/protobuf) to this address, e.g. http://127.0.0.1:4318; none when empty", SettingKind.Address),
        new("--otlp-interval-ms", nameof(OtlpIntervalMs), "how often metrics are sent to --otlp-endpoint", SettingKind.Count, 3_600_000),
    ];

    /// <summary>Command-line switches mapped to their keys in the section, for the configuration's command-line source.</summary>
    public static IDictionary<string, string> SwitchMappings() =>
        Settings.ToDictionary(s => s.Switch, s => $"{Section}:{s.Property}", StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Checks that every value in the section reads as its type, so binding cannot fail with the binder's
    /// type-conversion error, and the user gets the message of the switch they typed.
    /// </summary>
    /// <exception cref="MLTransferException">A value that is not a number, a flag or an address.</exception>
    public static void CheckSyntax(IConfiguration configuration)
    {
        var section = configuration.GetSection(Section);
        foreach (var setting in Settings)
        {
            var text = section[setting.Property];
            if (text is null)
                continue;
            var ok = setting.Kind switch
            {
                SettingKind.Count => long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0,
                SettingKind.Flag => bool.TryParse(text, out _),
                SettingKind.Probability => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var p) && p >= 0 && p <= 1,
                _ => true,
            };
            if (!ok)
                throw new MLTransferException(Problem(setting, text), null, Example(setting));
            // Checked here too, so a number too large for its property's type is not the binder's overflow error.
            if (setting.Kind == SettingKind.Count && long.Parse(text, CultureInfo.InvariantCulture) > setting.Max)
                throw new MLTransferException($"{setting.Switch} must be at most {setting.Max}, got {text}", null, Example(setting));
        }
    }

    private static string Problem(Setting setting, string text) => setting.Kind switch
    {
        SettingKind.Flag => $"{setting.Switch} must be true or false, got '{text}'",
        SettingKind.Address => $"{setting.Switch} must be an http:// or https:// address, got '{text}'",
        SettingKind.Probability => $"{setting.Switch} must be a number from 0 to 1, got '{text}'",
        _ => $"{setting.Switch} must be a positive whole number, got '{text}'",
    };

    private static string Example(Setting setting) => setting.Kind switch
    {
        SettingKind.Flag => $"Pass {setting.Switch} true (a bare {setting.Switch} takes the next argument as its value)",
        SettingKind.Address => $"Pass e.g. {setting.Switch} http://127.0.0.1:4318, or leave it out",
        _ => $"Pass e.g. {setting.Switch} {Default(setting)}",
    };

    private static string Default(Setting setting)
    {
        var value = typeof(ServiceOptions).GetProperty(setting.Property)!.GetValue(new ServiceOptions());
        return value switch
        {
            null or "" => "",
            bool b => b ? "true" : "false",
            IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
            _ => value.ToString() ?? "",
        };
    }

    /// <summary>What <c>--help</c> prints: every option with its default, and where else it can be set.</summary>
    public static string Help()
    {
        var text = new StringBuilder();
        text.AppendLine("MLTransfer prediction service: POST /predict, POST /predict/batch, GET /model, /healthz, /openapi/v1.json, /scalar");
        text.AppendLine();
        text.AppendLine("Usage: MLTransfer.Service --model MODEL.zip [--urls http://127.0.0.1:5000] [options]");
        text.AppendLine();
        text.AppendLine("Options (default in brackets):");
        foreach (var s in Settings)
        {
            var value = s.Kind switch { SettingKind.Count => "N", SettingKind.Flag => "true|false", SettingKind.Address => "URL", SettingKind.Probability => "P", _ => "PATH" };
            var fallback = Default(s);
            text.AppendLine(CultureInfo.InvariantCulture, $"  {s.Switch + " " + value,-30} {s.Description}{(fallback.Length > 0 ? $" [{fallback}]" : "")}");
        }
        text.AppendLine(CultureInfo.InvariantCulture, $"  {"--urls URL[;URL]",-30} where to listen (ASP.NET Core) [http://localhost:5000]");
        text.AppendLine(CultureInfo.InvariantCulture, $"  {"--help",-30} print this and exit");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"Each option can also be set in appsettings.json (\"{Section}\": {{ \"MaxImageBytes\": 8388608 }}) or in the");
        text.AppendLine(CultureInfo.InvariantCulture, $"environment ({Section}__MaxImageBytes=8388608); the command line wins. A bad value exits with code 2.");
        text.AppendLine("MLTRANSFER_DEBUG=1 prints the stack trace of an unexpected startup failure.");
        return text.ToString();
    }
}

/// <summary>Range checks of <see cref="ServiceOptions"/>, run when the options are first read and at start (ValidateOnStart).</summary>
public sealed class ServiceOptionsValidator : IValidateOptions<ServiceOptions>
{
    public ValidateOptionsResult Validate(string? name, ServiceOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.ModelPath))
            return ValidateOptionsResult.Fail("No model to serve. Pass --model path/to/model.zip (or set MLTRANSFER_MODEL); train one with 'mltransfer train'");
        var failures = new List<string>();
        foreach (var setting in ServiceOptions.Settings)
        {
            var value = typeof(ServiceOptions).GetProperty(setting.Property)!.GetValue(options);
            switch (setting.Kind)
            {
                case ServiceOptions.SettingKind.Count when Convert.ToInt64(value, CultureInfo.InvariantCulture) is var n && n <= 0:
                    failures.Add($"{setting.Switch} must be a positive whole number, got {n}");
                    break;
                case ServiceOptions.SettingKind.Count when Convert.ToInt64(value, CultureInfo.InvariantCulture) is var n && n > setting.Max:
                    failures.Add($"{setting.Switch} must be at most {setting.Max}, got {n}");
                    break;
                case ServiceOptions.SettingKind.Address when value is string { Length: > 0 } text
                    && !(Uri.TryCreate(text, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)):
                    failures.Add($"{setting.Switch} must be an http:// or https:// address, got '{text}'");
                    break;
                case ServiceOptions.SettingKind.Probability when Convert.ToDouble(value, CultureInfo.InvariantCulture) is var p && !(p >= 0 && p <= 1):
                    failures.Add($"{setting.Switch} must be a number from 0 to 1, got {p.ToString(CultureInfo.InvariantCulture)}");
                    break;
            }
        }
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
