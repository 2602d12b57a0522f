using MLTransfer.Inference.Hosting;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;

namespace MLTransfer.Service;

/// <summary>
/// OpenTelemetry export of the service's meters, set up only when <see cref="ServiceOptions.OtlpEndpoint"/> is
/// configured: by default no provider, exporter or background thread exists, and the meters serve
/// <c>dotnet-counters</c> and any in-process listener.
/// </summary>
internal static class ServiceTelemetry
{
    public static void AddOtlpExporter(IServiceCollection services)
    {
        services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(ReloadingImageClassifier.MeterName, "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel")
            .AddOtlpExporter());
        services.AddOptions<OtlpExporterOptions>().Configure<ServiceOptions>((exporter, options) =>
        {
            var endpoint = options.OtlpEndpoint!.TrimEnd('/');
            exporter.Protocol = OtlpExportProtocol.HttpProtobuf;
            // With HTTP/protobuf the exporter posts to exactly this address, so the signal's path is added here.
            exporter.Endpoint = new Uri(endpoint.EndsWith("/v1/metrics", StringComparison.Ordinal) ? endpoint : endpoint + "/v1/metrics");
        });
        services.AddOptions<MetricReaderOptions>().Configure<ServiceOptions>((reader, options) =>
            reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = (int)options.OtlpIntervalMs);
    }
}
