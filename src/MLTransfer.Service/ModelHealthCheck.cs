using Microsoft.Extensions.Diagnostics.HealthChecks;
using MLTransfer.Inference.Hosting;

namespace MLTransfer.Service;

/// <summary>
/// Readiness of the prediction service: Healthy while a model serves and the last reload succeeded (or none
/// was tried), Degraded while the model file on disk is one that could not be used (the old model still
/// answers, but the operator's new model is not live), Unhealthy once the classifier is shut down.
/// </summary>
public sealed class ModelHealthCheck(ReloadingImageClassifier classifier, ServiceOptions options) : IHealthCheck
{
    /// <summary>Tag of the checks that <c>/healthz/ready</c> (and <c>/healthz</c>) run.</summary>
    public const string ReadyTag = "ready";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (classifier.IsDisposed)
            return Task.FromResult(HealthCheckResult.Unhealthy("The model has been unloaded: the service is shutting down"));
        var model = classifier.Model;
        var data = new Dictionary<string, object> { ["modelVersion"] = model.Version };
        var error = options.ExposePaths ? classifier.LastReloadError : ModelInfoDto.HidePaths(classifier.LastReloadError, model.Path);
        if (error is null)
            return Task.FromResult(HealthCheckResult.Healthy($"Serving model {model.Version}", data));
        data["lastReloadError"] = error;
        return Task.FromResult(HealthCheckResult.Degraded(
            $"The model file changed but could not be used, so model {model.Version} still serves: {error}", data: data));
    }

    /// <summary>
    /// Writes a report as JSON. <c>status</c> stays <c>ok</c> when healthy, as <c>/healthz</c> always said, so
    /// existing clients keep working; <c>health</c> is the ASP.NET status and <c>description</c> says why.
    /// </summary>
    public static Task WriteJson(HttpContext http, HealthReport report)
    {
        var entry = report.Entries.Values.FirstOrDefault();
        var dto = new HealthDto(
            report.Status == HealthStatus.Healthy ? "ok" : report.Status.ToString().ToLowerInvariant(),
            report.Status.ToString(),
            entry.Data?.GetValueOrDefault("modelVersion") as string,
            entry.Description ?? (report.Entries.Count == 0 ? "The process is running" : null),
            entry.Data?.GetValueOrDefault("lastReloadError") as string);
        http.Response.Headers.CacheControl = "no-store";
        return http.Response.WriteAsJsonAsync(dto);
    }
}
