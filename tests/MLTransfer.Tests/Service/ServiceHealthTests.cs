using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using MLTransfer.Inference.Hosting;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;

namespace MLTransfer.Tests.Service;

/// <summary>
/// Liveness, readiness and the legacy <c>/healthz</c>: a model file that cannot be used makes readiness
/// Degraded (still 200, with the reason) while the old model answers, until a good file is in place.
/// </summary>
[TestFixture, NonParallelizable]
public class ServiceHealthTests
{
    private static async Task<(HttpStatusCode Status, JsonElement Json)> Get(ServiceHost host, string path)
    {
        using var response = await host.Client.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/json"), text);
        return (response.StatusCode, JsonDocument.Parse(text).RootElement);
    }

    private static async Task AssertHealthy(ServiceHost host, string version)
    {
        foreach (var path in new[] { "healthz", "healthz/ready" })
        {
            var (status, json) = await Get(host, path);
            Assert.That(status, Is.EqualTo(HttpStatusCode.OK), path);
            Assert.That(json.GetProperty("status").GetString(), Is.EqualTo("ok"), path);
            Assert.That(json.GetProperty("health").GetString(), Is.EqualTo("Healthy"), path);
            Assert.That(json.GetProperty("modelVersion").GetString(), Is.EqualTo(version), path);
            Assert.That(json.GetProperty("lastReloadError").ValueKind, Is.EqualTo(JsonValueKind.Null), path);
        }
        var (liveStatus, live) = await Get(host, "healthz/live");
        Assert.That(liveStatus, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(live.GetProperty("health").GetString(), Is.EqualTo("Healthy"));
    }

    [Test, CancelAfter(120_000)]
    public async Task BrokenModelFile_MakesReadinessDegraded_WithTheReason_WhileTheOldModelAnswers_ThenAGoodOneIsHealthy()
    {
        var served = ServiceModels.CopyToFreshFolder(ServiceModels.First);
        await using var host = await ServiceHost.StartAsync(served, "--reload-debounce-ms", "100");
        var classifier = host.Services.GetRequiredService<ReloadingImageClassifier>();
        var oldVersion = classifier.Model.Version;
        var image = File.ReadAllBytes(ServiceModels.SampleImages(1)[0].Path);
        await AssertHealthy(host, oldVersion);

        var broken = new (BrokenZip Kind, string Reason)[]
        {
            (BrokenZip.Truncated, "served.zip"),
            (BrokenZip.MetadataRemoved, "metadata"),
            (BrokenZip.TwoClassNames, "names 2"),
        };
        var scratch = Path.Combine(Path.GetDirectoryName(served)!, "scratch");
        Directory.CreateDirectory(scratch);
        foreach (var (kind, reason) in broken)
        {
            var failures = classifier.FailedReloads;
            // Copied over the served file as an operator would (cp): the watcher sees it being written.
            File.Copy(BrokenModelZips.Write(ServiceModels.Second, kind, Path.Combine(scratch, $"{kind}.zip")), served, overwrite: true);
            await WaitFor(() => classifier.FailedReloads > failures, $"the reload of the {kind}");

            var (status, json) = await Get(host, "healthz");
            TestContext.Out.WriteLine($"{kind}: {json}");
            Assert.That(status, Is.EqualTo(HttpStatusCode.OK), "Degraded still answers 200");
            Assert.That(json.GetProperty("status").GetString(), Is.EqualTo("degraded"), kind.ToString());
            Assert.That(json.GetProperty("health").GetString(), Is.EqualTo("Degraded"), kind.ToString());
            Assert.That(json.GetProperty("modelVersion").GetString(), Is.EqualTo(oldVersion));
            Assert.That(json.GetProperty("description").GetString(), Does.Contain("could not be used").And.Contain(reason), kind.ToString());
            Assert.That(json.GetProperty("lastReloadError").GetString(), Does.Contain(reason), kind.ToString());
            var (readyStatus, ready) = await Get(host, "healthz/ready");
            Assert.That((readyStatus, ready.GetProperty("health").GetString()), Is.EqualTo((HttpStatusCode.OK, "Degraded")));
            var (liveStatus, live) = await Get(host, "healthz/live");
            Assert.That((liveStatus, live.GetProperty("health").GetString()), Is.EqualTo((HttpStatusCode.OK, "Healthy")), "the process is alive");

            using var predicted = await host.Client.PostAsync("predict", new ByteArrayContent(image));
            Assert.That(predicted.StatusCode, Is.EqualTo(HttpStatusCode.OK), await predicted.Content.ReadAsStringAsync());
            var answer = JsonDocument.Parse(await predicted.Content.ReadAsStringAsync()).RootElement;
            Assert.That(answer.GetProperty("model").GetProperty("version").GetString(), Is.EqualTo(oldVersion), "answered by the old model");
        }

        File.Copy(ServiceModels.Second, served, overwrite: true);
        await WaitFor(() => classifier.Model.Version != oldVersion, "the good model to be swapped in");
        await AssertHealthy(host, classifier.Model.Version);
    }

    [Test, CancelAfter(60_000)]
    public async Task Readiness_IsUnhealthy503_OnceTheModelIsUnloaded()
    {
        var served = ServiceModels.CopyToFreshFolder(ServiceModels.First);
        await using var host = await ServiceHost.StartAsync(served);
        host.Services.GetRequiredService<ReloadingImageClassifier>().Dispose();
        var (status, json) = await Get(host, "healthz/ready");
        Assert.That(status, Is.EqualTo(HttpStatusCode.ServiceUnavailable));
        Assert.That(json.GetProperty("status").GetString(), Is.EqualTo("unhealthy"));
        var (liveStatus, _) = await Get(host, "healthz/live");
        Assert.That(liveStatus, Is.EqualTo(HttpStatusCode.OK));
    }

    private static async Task WaitFor(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(30))
                Assert.Fail($"timed out waiting for {what}");
            await Task.Delay(25);
        }
    }
}
