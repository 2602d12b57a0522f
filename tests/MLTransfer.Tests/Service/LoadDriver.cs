using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;

namespace MLTransfer.Tests.Service;

/// <summary>Sends a bounded number of <c>POST /predict</c> requests from concurrent clients and measures them.</summary>
public static class LoadDriver
{
    /// <summary>What a run saw.</summary>
    public sealed record Result(int Requests, int Failures, IReadOnlyList<string> FailureSamples, TimeSpan Elapsed, double P50Ms, double P99Ms, IReadOnlyDictionary<string, int> Versions)
    {
        public double PerSecond => Requests / Elapsed.TotalSeconds;
    }

    /// <summary>
    /// Runs until <paramref name="requests"/> have completed or <paramref name="deadline"/> passes. Every
    /// response that is not 200 with a parsable prediction counts as a failure.
    /// </summary>
    public static async Task<Result> RunAsync(HttpClient client, IReadOnlyList<byte[]> images, int requests, int clients, TimeSpan deadline, Func<int, bool>? keepGoing = null)
    {
        var latencies = new ConcurrentBag<double>();
        var versions = new ConcurrentDictionary<string, int>();
        var failures = new ConcurrentQueue<string>();
        var next = -1;
        var completed = 0;
        var stop = Stopwatch.StartNew();
        async Task Client()
        {
            while (true)
            {
                var i = Interlocked.Increment(ref next);
                if (i >= requests || stop.Elapsed > deadline || (keepGoing is not null && !keepGoing(i)))
                    return;
                var content = new ByteArrayContent(images[i % images.Count]);
                content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
                var clock = Stopwatch.StartNew();
                Interlocked.Increment(ref completed);
                try
                {
                    using var response = await client.PostAsync("predict", content);
                    var body = await response.Content.ReadAsStringAsync();
                    latencies.Add(clock.Elapsed.TotalMilliseconds);
                    if (!response.IsSuccessStatusCode)
                    {
                        failures.Enqueue($"{(int)response.StatusCode}: {body}");
                        continue;
                    }
                    using var json = JsonDocument.Parse(body);
                    versions.AddOrUpdate(json.RootElement.GetProperty("model").GetProperty("version").GetString()!, 1, (_, n) => n + 1);
                }
                catch (Exception e)
                {
                    failures.Enqueue(e.GetType().Name + ": " + e.Message);
                }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(Client)));
        var elapsed = stop.Elapsed;
        var sorted = latencies.OrderBy(x => x).ToArray();
        double Percentile(double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
        return new Result(completed, failures.Count, failures.Take(5).ToList(), elapsed, Percentile(0.50), Percentile(0.99), versions);
    }
}
