using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;

namespace MLTransfer.Tests.Service;

/// <summary>
/// The operator's worst afternoon: while 16 clients predict without pause, the served zip is replaced by
/// every kind of broken model in turn, then by a good one. No client may see a 5xx, readiness must say
/// Degraded while the file on disk is unusable, the good model must go live, and the service (its own
/// process) must stay under 1 GiB throughout.
/// </summary>
[TestFixture, NonParallelizable]
public class ServiceSoakTests
{
    private const long GiB = 1024L * 1024 * 1024;

    private sealed record Health(string Status, string? ModelVersion, string? Reason);

    private static async Task<Health> GetHealth(HttpClient client)
    {
        using var response = await client.GetAsync("healthz");
        Assert.That((int)response.StatusCode, Is.EqualTo(200), "readiness answers 200 while a model serves");
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        return new Health(json.GetProperty("status").GetString()!, json.GetProperty("modelVersion").GetString(), json.GetProperty("lastReloadError").GetString());
    }

    private static async Task<(int Reloads, int FailedReloads, string Version)> GetModel(HttpClient client)
    {
        var json = JsonDocument.Parse(await client.GetStringAsync("model")).RootElement;
        return (json.GetProperty("reloads").GetInt32(), json.GetProperty("failedReloads").GetInt32(), json.GetProperty("version").GetString()!);
    }

    private static async Task WaitFor(Func<Task<bool>> condition, string what, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!await condition())
        {
            if (clock.Elapsed > timeout)
                Assert.Fail($"timed out after {timeout.TotalSeconds:F0} s waiting for {what}");
            await Task.Delay(20);
        }
    }

    [Test, CancelAfter(240_000)]
    public async Task SixteenClients_WhileEveryBrokenKindReplacesTheModel_No5xx_DegradedUntilAGoodModel_Under1GiB()
    {
        var served = ServiceModels.CopyToFreshFolder(ServiceModels.First);
        var scratch = Path.Combine(Path.GetDirectoryName(served)!, "broken");
        Directory.CreateDirectory(scratch);
        // Written before the run, so the run times reloads, not the making of a 1 GiB metadata bomb.
        var broken = BrokenModelZips.All.Select(kind => (Kind: kind, Path: BrokenModelZips.Write(ServiceModels.Second, kind, Path.Combine(scratch, $"{kind}.zip")))).ToList();

        using var service = await ServiceProcess.StartAsync(served, "--reload-debounce-ms", "50");
        using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = service.Address, Timeout = TimeSpan.FromSeconds(60) };
        var (_, _, firstVersion) = await GetModel(client);
        var images = ServiceModels.SampleImages(32).Select(s => File.ReadAllBytes(s.Path)).ToList();

        var clock = Stopwatch.StartNew();
        // The clients run until request number stopAt; once the good model is live it is set 200 requests
        // ahead, so calls overlap the swap and the retirement of the old model.
        var lastRequest = 0;
        var stopAt = int.MaxValue;
        string? newVersion = null;
        var load = LoadDriver.RunAsync(client, images, int.MaxValue, 16, TimeSpan.FromSeconds(200), i =>
        {
            Volatile.Write(ref lastRequest, i);
            return i < Volatile.Read(ref stopAt);
        });
        var timeline = new List<string>();
        try
        {
            foreach (var (kind, path) in broken)
            {
                var (_, failedBefore, _) = await GetModel(client);
                var started = clock.Elapsed;
                // Renamed into place (as ModelPackage.Save and `mv` do), so the reload that fails is the one of
                // this whole file rather than of a half-written copy; the final good model is a plain copy.
                var staged = served + ".staged";
                File.Copy(path, staged, overwrite: true);
                File.Move(staged, served, overwrite: true);
                await WaitFor(async () => (await GetModel(client)).FailedReloads > failedBefore, $"the reload of {kind}", TimeSpan.FromSeconds(30));

                var health = await GetHealth(client);
                var (_, _, version) = await GetModel(client);
                timeline.Add(string.Create(CultureInfo.InvariantCulture, $"{kind}: refused in {(clock.Elapsed - started).TotalMilliseconds:F0} ms: {health.Reason}"));
                Assert.That(version, Is.EqualTo(firstVersion), $"{kind} must not be swapped in");
                Assert.That(health.Status, Is.EqualTo("degraded"), $"readiness while {kind} is on disk");
                Assert.That(health.ModelVersion, Is.EqualTo(firstVersion));
                Assert.That(health.Reason, Is.Not.Empty);
            }

            // A plain overwrite, as cp does: the watcher may see it half-written first, which must fail quietly.
            File.Copy(ServiceModels.Second, served, overwrite: true);
            await WaitFor(async () => (await GetModel(client)).Version != firstVersion, "the good model to go live", TimeSpan.FromSeconds(30));
            newVersion = (await GetModel(client)).Version;
            var healthy = await GetHealth(client);
            Assert.That(healthy.Status, Is.EqualTo("ok"));
            Assert.That(healthy.ModelVersion, Is.EqualTo(newVersion));
            Volatile.Write(ref stopAt, Volatile.Read(ref lastRequest) + 200);
        }
        finally
        {
            // Also when an assertion failed: the clients stop at their next request.
            Interlocked.CompareExchange(ref stopAt, 0, int.MaxValue);
        }
        var result = await load;
        var peak = service.PeakBytes();
        foreach (var line in timeline)
            TestContext.Out.WriteLine(line);
        TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{result.Requests} requests in {result.Elapsed.TotalSeconds:F1} s ({result.PerSecond:F0}/s), p99 {result.P99Ms:F0} ms, failures {result.Failures}; " +
            $"versions {string.Join(", ", result.Versions.Select(v => $"{v.Key}×{v.Value}"))}; service peak RSS {peak / (1024 * 1024)} MiB"));

        Assert.That(result.Failures, Is.Zero, "every request answered 200: " + string.Join("\n", result.FailureSamples));
        Assert.That(result.Versions.Keys, Is.EquivalentTo(new[] { firstVersion, newVersion }), "answers came from the first model, then the good replacement only");
        Assert.That(result.Versions[newVersion!], Is.GreaterThanOrEqualTo(150), "the good model answered the requests after its swap");
        Assert.That(peak, Is.LessThan(GiB), "the service's peak resident memory over the whole run");
    }
}
