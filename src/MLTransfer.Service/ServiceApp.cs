using System.Diagnostics;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using MLTransfer.Images;
using MLTransfer.Inference.Hosting;
using Scalar.AspNetCore;

namespace MLTransfer.Service;

/// <summary>
/// The prediction service: a minimal API over a hot-reloading <see cref="ReloadingImageClassifier"/>.
/// <c>Program</c> runs it; tests build it in-process with <c>--urls http://127.0.0.1:0</c>.
/// </summary>
public static class ServiceApp
{
    /// <summary>Builds the app (the model is loaded here, so a bad model fails before listening).</summary>
    /// <param name="args">Command line: the switches of <see cref="ServiceOptions.Settings"/>, <c>--urls</c>, and any ASP.NET Core configuration key.</param>
    /// <exception cref="MLTransferException">A malformed option, or a model that does not load.</exception>
    /// <exception cref="OptionsValidationException">An option out of range, or no model given.</exception>
    public static WebApplication Build(string[] args)
    {
        var builder = WebApplication.CreateBuilder(args);
        // After the host's own sources, so the command line wins over appsettings.json and the environment.
        builder.Configuration.AddCommandLine(args, ServiceOptions.SwitchMappings());
        ServiceOptions.CheckSyntax(builder.Configuration);
        builder.Services.AddOptions<ServiceOptions>()
            .BindConfiguration(ServiceOptions.Section)
            .PostConfigure(o =>
            {
                if (string.IsNullOrWhiteSpace(o.ModelPath))
                    o.ModelPath = Environment.GetEnvironmentVariable("MLTRANSFER_MODEL") ?? "";
            })
            .ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ServiceOptions>, ServiceOptionsValidator>();
        // Handlers and the health check take the validated values directly.
        builder.Services.AddSingleton(sp => sp.GetRequiredService<IOptions<ServiceOptions>>().Value);

        // One log line per request would cost more than a prediction's bookkeeping; errors still show.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        // A failed start (e.g. address in use) is reported by Program in one line; the host would also log it
        // with a stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
        // The reloader logs a failed reload once; the health service would warn again at every readiness probe.
        builder.Logging.AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks", LogLevel.Error);
        builder.Services.AddImageClassifier(_ => { });
        builder.Services.AddOptions<ImageClassifierOptions>().Configure<ServiceOptions>((o, options) =>
        {
            o.ModelPath = options.ModelPath;
            o.ReloadDebounce = options.ReloadDebounce;
            o.DecodeBudgetBytes = options.DecodeBudgetBytes;
            o.Decode = new ImageDecodeOptions { MaxPixels = options.MaxImagePixels };
        });
        builder.Services.AddOptions<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>().Configure<ServiceOptions>((k, options) => k.Limits.MaxRequestBodySize = options.MaxBatchRequestBytes);
        builder.Services.AddHealthChecks().AddCheck<ModelHealthCheck>("model", tags: [ModelHealthCheck.ReadyTag]);
        builder.Services.ConfigureHttpJsonOptions(j =>
        {
            j.SerializerOptions.Converters.Add(new JsonStringEnumConverter());
            j.SerializerOptions.NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals;
        });
        builder.Services.AddProblemDetails(p => p.CustomizeProblemDetails = c =>
        {
            // Clients get a status, a reason and the trace id (to quote when reporting), never internals.
            c.ProblemDetails.Extensions.Remove("exception");
            c.ProblemDetails.Extensions["traceId"] = Activity.Current?.Id ?? c.HttpContext.TraceIdentifier;
        });
        builder.Services.AddOpenApi(ServiceOpenApi.Configure);
        if (builder.Configuration.GetSection(ServiceOptions.Section)[nameof(ServiceOptions.OtlpEndpoint)] is { Length: > 0 })
            ServiceTelemetry.AddOtlpExporter(builder.Services);

        var app = builder.Build();
        // Load now: a missing or broken model (or a bad option) stops startup instead of failing the first request.
        app.Services.GetRequiredService<ReloadingImageClassifier>();
        var options = app.Services.GetRequiredService<ServiceOptions>();

        app.UseExceptionHandler();
        app.UseStatusCodePages();

        app.MapGet("/", () => Results.Stream(Resource("index.html"), "text/html; charset=utf-8")).ExcludeFromDescription();
        app.MapGet("/sample.jpg", () => Results.Stream(Resource("sample.jpg"), "image/jpeg")).ExcludeFromDescription();
        app.MapOpenApi();
        app.MapScalarApiReference(s => s.WithTitle("MLTransfer prediction service"));
        // Liveness runs no check: the process answers. Readiness (and /healthz, which clients already poll)
        // is the model check, 200 while Healthy or Degraded and 503 when Unhealthy.
        app.MapHealthChecks("/healthz/live", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = ModelHealthCheck.WriteJson });
        var ready = new HealthCheckOptions { Predicate = c => c.Tags.Contains(ModelHealthCheck.ReadyTag), ResponseWriter = ModelHealthCheck.WriteJson };
        app.MapHealthChecks("/healthz/ready", ready);
        app.MapHealthChecks("/healthz", ready);
        app.MapGet("/model", (ReloadingImageClassifier c) => ModelInfoDto.From(c, options.ExposePaths))
            .WithName("GetModel").WithSummary("The served model: version, metadata, metrics, reload status")
            .Produces<ModelInfoDto>();
        app.MapPost("/predict", Predict).DisableAntiforgery()
            .WithName("Predict").WithSummary("Classify one image (a multipart file field, or the raw body)")
            .Produces<PredictionDto>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType)
            .ProducesProblem(StatusCodes.Status503ServiceUnavailable);
        app.MapPost("/predict/batch", PredictBatch).DisableAntiforgery()
            .WithName("PredictBatch").WithSummary("Classify several images (file fields of one multipart form), all by the same model")
            .Produces<BatchDto>()
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .ProducesProblem(StatusCodes.Status415UnsupportedMediaType);
        return app;
    }

    private static async Task<IResult> Predict(HttpContext http, ReloadingImageClassifier classifier, ServiceOptions options, int? topK, float? minConfidence)
    {
        if (BadMinConfidence(minConfidence) is { } badThreshold)
            return badThreshold;
        if (await RefuseOversized(http, options.MaxSingleRequestBytes) is { } refused)
            return refused;
        byte[] image;
        string? fileName = null;
        // Only multipart is a form here: curl --data-binary sends raw bytes labelled x-www-form-urlencoded.
        if (IsMultipart(http.Request))
        {
            var (form, refusal) = await MultipartUpload.ReadAsync(http.Request, 1, options.MaxImageBytes, options.MaxSingleRequestBytes, http.RequestAborted);
            if (refusal is not null)
                return Problem(refusal.Status, refusal.Title, refusal.Detail);
            if (form!.Files is not [var file, ..])
                return Problem(400, "No image in the form", "Send the picture as a file field of a multipart/form-data request, or as the raw request body.");
            if (file.Bytes is null)
                return TooLarge(options.MaxImageBytes);
            (fileName, image) = (file.FileName, file.Bytes);
        }
        else
        {
            try
            {
                if (await MultipartUpload.ReadCapped(http.Request.Body, options.MaxImageBytes, http.RequestAborted) is not { } body)
                    return TooLarge(options.MaxImageBytes);
                image = body;
            }
            catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                return TooLarge(options.MaxImageBytes);
            }
            catch (BadHttpRequestException)
            {
                // Usually the client went away mid-upload; an answer may not reach it, but it is not a server error.
                return Problem(400, "Incomplete request body", "The body ended before its declared length, or its chunked encoding is broken. Send the image again.");
            }
        }
        if (CheckImage(image) is { } bad)
            return Problem(bad.Status, bad.Title, bad.Detail);

        var clock = Stopwatch.StartNew();
        try
        {
            var served = classifier.Predict(image, topK ?? options.TopK, minConfidence ?? (float)options.MinConfidence);
            return Results.Ok(ToDto(served.Prediction, served.Model, fileName, clock));
        }
        catch (ImageDecodeException e)
        {
            return Problem(400, "The image could not be decoded", e.Reason);
        }
        catch (DecodeBudgetExceededException e)
        {
            return Busy(http, e);
        }
    }

    /// <summary>503 with Retry-After: the image is fine, the server is short of decode memory for the moment.</summary>
    private static IResult Busy(HttpContext http, DecodeBudgetExceededException e)
    {
        http.Response.Headers.RetryAfter = ((int)Math.Ceiling(e.RetryAfter.TotalSeconds)).ToString(System.Globalization.CultureInfo.InvariantCulture);
        return Problem(503, "Busy decoding other large images", e.Message);
    }

    private static async Task<IResult> PredictBatch(HttpContext http, ReloadingImageClassifier classifier, ServiceOptions options, int? topK, float? minConfidence)
    {
        if (BadMinConfidence(minConfidence) is { } badThreshold)
            return badThreshold;
        if (await RefuseOversized(http, options.MaxBatchRequestBytes) is { } refused)
            return refused;
        if (!IsMultipart(http.Request))
            return Problem(415, "A batch must be multipart/form-data", "Send each picture as a file field of a multipart/form-data request.");
        var (form, refusal) = await MultipartUpload.ReadAsync(http.Request, options.MaxBatchFiles, options.MaxImageBytes, options.MaxBatchRequestBytes, http.RequestAborted);
        if (refusal is not null)
            return Problem(refusal.Status, refusal.Title, refusal.Detail);
        if (form!.FileCount == 0)
            return Problem(400, "No images in the form", "Add one or more file fields.");
        if (form.FileCount > options.MaxBatchFiles)
            return Problem(400, "Too many files", $"A batch holds at most {options.MaxBatchFiles} files; this one has {form.FileCount}. Split it.");

        var payloads = new List<(string Name, byte[]? Bytes, int Status, string? Error)>();
        foreach (var file in form.Files)
        {
            if (file.Bytes is null)
            {
                payloads.Add((file.FileName, null, 413, $"larger than {options.MaxImageBytes} bytes"));
                continue;
            }
            var bad = CheckImage(file.Bytes);
            payloads.Add((file.FileName, bad is null ? file.Bytes : null, bad?.Status ?? 200, bad?.Detail));
        }

        // One lease for the whole batch: all files are answered by the same model even during a reload.
        var k = topK ?? options.TopK;
        var threshold = minConfidence ?? (float)options.MinConfidence;
        var batch = classifier.Use((c, model) => new BatchDto(ModelVersionDto.From(model), payloads.Select(p =>
        {
            if (p.Bytes is null)
                return new BatchItemDto(p.Name, p.Status, null, p.Error);
            var clock = Stopwatch.StartNew();
            try
            {
                var prediction = classifier.Measured(() => c.Predict(p.Bytes, k, threshold));
                return new BatchItemDto(p.Name, 200, ToDto(prediction, model, p.Name, clock), null);
            }
            catch (ImageDecodeException e)
            {
                return new BatchItemDto(p.Name, 400, null, e.Reason);
            }
            catch (DecodeBudgetExceededException e)
            {
                return new BatchItemDto(p.Name, 503, null, e.Message);
            }
        }).ToList()));
        return Results.Ok(batch);
    }

    /// <summary>400 for a <c>?minConfidence=</c> outside 0..1 (checked before the upload is read).</summary>
    private static IResult? BadMinConfidence(float? minConfidence) => minConfidence is { } m && !(m >= 0 && m <= 1)
        ? Problem(400, "minConfidence out of range", $"minConfidence is a probability from 0 to 1; got {m.ToString(System.Globalization.CultureInfo.InvariantCulture)}.")
        : null;

    private sealed record BadImage(int Status, string Title, string Detail);

    private static BadImage? CheckImage(byte[] image) =>
        image.Length == 0 ? new BadImage(400, "Empty image", "The request carried no image bytes.")
        : ImageFormat.Detect(image) is null
            ? new BadImage(415, "Not an image", "The content is not JPEG, PNG, GIF, BMP or WebP (checked by its first bytes).")
            : null;

    /// <summary>
    /// Refuses a body whose declared length is over <paramref name="limit"/>. A body up to twice the limit is
    /// read and discarded first: answering while the client is still sending makes the server close a socket
    /// with unread data, which resets the connection and the client never sees the 413. Beyond that the
    /// server answers at once and closes (as a proxy would); such clients should send Expect: 100-continue.
    /// </summary>
    private static async Task<IResult?> RefuseOversized(HttpContext http, long limit)
    {
        var feature = http.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (feature is { IsReadOnly: false })
            feature.MaxRequestBodySize = DrainLimit(limit);
        var declared = http.Request.ContentLength;
        if (declared is null || declared <= limit)
            return null;
        if (declared <= DrainLimit(limit))
        {
            try { await http.Request.Body.CopyToAsync(Stream.Null, http.RequestAborted); }
            catch (Exception e) when (e is IOException or OperationCanceledException) { }
        }
        else
        {
            http.Response.Headers.Connection = "close";
        }
        return TooLarge(limit);
    }

    private static long DrainLimit(long limit) => limit * 2;

    private static bool IsMultipart(HttpRequest request) =>
        request.ContentType?.StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase) == true;

    private static IResult TooLarge(long limit) =>
        Problem(413, "Request too large", $"The limit is {limit} bytes; send a smaller image.");

    private static IResult Problem(int status, string title, string detail) =>
        Results.Problem(statusCode: status, title: title, detail: detail);

    private static PredictionDto ToDto(MLTransfer.Inference.ImagePrediction p, ServedModel model, string? fileName, Stopwatch clock) =>
        new(p.IsConfident ? p.Label : null, p.Probability, p.IsConfident, p.Abstention, p.Label, p.MinConfidence, p.OutOfDomainScore, p.OutOfDomainThreshold,
            p.TopK, p.Probabilities, ModelVersionDto.From(model), fileName, clock.Elapsed.TotalMilliseconds);

    private static Stream Resource(string name) =>
        typeof(ServiceApp).Assembly.GetManifestResourceStream(name)
        ?? throw new InvalidOperationException($"Embedded resource {name} is missing from the build");
}
