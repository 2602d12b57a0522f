using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;

namespace MLTransfer.Cli.Benchmarks;

/// <summary>
/// Throughput and latency of a running prediction service (<c>MLTransfer.Service</c>): a fixed number of
/// <c>POST /predict</c> requests with the dataset's images from concurrent clients, after a warm-up.
/// </summary>
public static class ServiceLoad
{
    /// <summary>Sends the requests and measures them.</summary>
    /// <param name="service">Base address of the service, e.g. <c>http://127.0.0.1:5000/</c>.</param>
    /// <param name="images">Encoded images, sent in turn.</param>
    /// <param name="clients">Concurrent clients, each with one request in flight.</param>
    /// <param name="requests">Requests measured (a warm-up of a tenth of them, at least 50, comes first).</param>
    /// <param name="deadline">The run stops sending when this much time has passed.</param>
    /// <param name="cancellation">Stops the run.</param>
    /// <exception cref="MLTransferException">The service cannot be reached or answers nothing but errors.</exception>
    public static ServiceFigures Run(Uri service, IReadOnlyList<byte[]> images, int clients, int requests, TimeSpan deadline, CancellationToken cancellation = default)
    {
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = clients }) { BaseAddress = service, Timeout = TimeSpan.FromSeconds(60) };
        var warm = Drive(client, images, clients, Math.Max(50, requests / 10), deadline, cancellation);
        if (warm.Ok == 0)
            throw new MLTransferException($"The service answered none of {warm.Requests} warm-up requests: {warm.FirstError}", service.ToString(),
                "Start it first, e.g. 'dotnet run --project src/MLTransfer.Service -c Release -- --model MODEL.zip --urls http://127.0.0.1:5000', and pass that address");
        return Drive(client, images, clients, requests, deadline, cancellation);
    }

    private static ServiceFigures Drive(HttpClient client, IReadOnlyList<byte[]> images, int clients, int requests, TimeSpan deadline, CancellationToken cancellation)
    {
        var latencies = new ConcurrentBag<double>();
        var failures = 0;
        var completed = 0;
        string? firstError = null;
        var next = -1;
        var clock = Stopwatch.StartNew();
        async Task Client()
        {
            while (!cancellation.IsCancellationRequested && clock.Elapsed < deadline)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= requests)
                    return;
                using var content = new ByteArrayContent(images[i % images.Count]);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
                var start = Stopwatch.GetTimestamp();
                Interlocked.Increment(ref completed);
                try
                {
                    using var response = await client.PostAsync("predict", content, cancellation);
                    var body = await response.Content.ReadAsStringAsync(cancellation);
                    latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
                    if (!response.IsSuccessStatusCode)
                        throw new HttpRequestException($"{(int)response.StatusCode}: {body[..Math.Min(body.Length, 300)]}");
                    using var _ = JsonDocument.Parse(body);
                }
                catch (Exception e) when (e is HttpRequestException or JsonException or TaskCanceledException)
                {
                    Interlocked.Increment(ref failures);
                    Interlocked.CompareExchange(ref firstError, e.Message, null);
                }
            }
        }
        Task.WaitAll(Enumerable.Range(0, clients).Select(_ => Task.Run(Client)).ToArray(), cancellation);
        var elapsed = clock.Elapsed.TotalSeconds;
        var sorted = latencies.Order().ToList();
        double Percentile(double p) => sorted.Count == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];
        return new ServiceFigures(clients, completed, failures, completed - failures, (completed - failures) / elapsed, Percentile(0.5), Percentile(0.99), firstError);
    }

    /// <summary>One line for the text report.</summary>
    public static string Describe(ServiceFigures s) => string.Create(CultureInfo.InvariantCulture,
        $"{s.RequestsPerSecond:F0} req/s from {s.Clients} clients ({s.Ok} of {s.Requests} answered 200), p50 {s.P50Milliseconds:F1} ms, p99 {s.P99Milliseconds:F1} ms");
}

/// <summary>What a load run against the service saw.</summary>
/// <param name="Clients">Concurrent clients.</param>
/// <param name="Requests">Requests completed.</param>
/// <param name="Failures">Requests that did not get 200 with a JSON answer.</param>
/// <param name="Ok">Requests answered 200.</param>
/// <param name="RequestsPerSecond">Successful requests per second of wall time.</param>
/// <param name="P50Milliseconds">Median latency seen by a client.</param>
/// <param name="P99Milliseconds">99th percentile latency.</param>
/// <param name="FirstError">The first failure, if any.</param>
public sealed record ServiceFigures(int Clients, int Requests, int Failures, int Ok, double RequestsPerSecond, double P50Milliseconds, double P99Milliseconds, string? FirstError);
