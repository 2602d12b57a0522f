using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using MLTransfer.Inference.Hosting;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;

namespace MLTransfer.Tests.Service;

/// <summary>
/// Bounded load on loopback: 5,000 predictions from 16 concurrent clients, and a model swap in the middle
/// of a load. Figures go to the test output.
/// </summary>
[TestFixture, NonParallelizable]
public class ServiceLoadTests
{
    private static IReadOnlyList<byte[]> Images() => ServiceModels.SampleImages(32).Select(s => File.ReadAllBytes(s.Path)).ToList();

    private static long RssBytes()
    {
        // VmRSS is what the kernel charges this process (server and clients share it: the server runs in-process).
        return ProcessMemory.RssBytes();
    }

    private static void Report(string what, LoadDriver.Result r) => TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{what}: {r.Requests} requests in {r.Elapsed.TotalSeconds:F1} s = {r.PerSecond:F0} req/s, p50 {r.P50Ms:F1} ms, p99 {r.P99Ms:F1} ms, failures {r.Failures}; versions {string.Join(", ", r.Versions.Select(v => $"{v.Key}×{v.Value}"))}"));

    [Test, CancelAfter(180_000)]
    public async Task FiveThousandRequests_From16Clients_NoErrors_BoundedMemory()
    {
        var served = ServiceModels.CopyToFreshFolder(ServiceModels.First);
        await using var host = await ServiceHost.StartAsync(served);
        var images = Images();

        // Warm up: pools fill to the concurrency level and the JIT settles before RSS is read.
        var warm = await LoadDriver.RunAsync(host.Client, images, 200, 16, TimeSpan.FromSeconds(60));
        Assert.That(warm.Failures, Is.Zero, string.Join("\n", warm.FailureSamples));
        GC.Collect();
        var rssBefore = RssBytes();

        // Two halves of 2,500: the first may still grow the allocator to its working set (in a test process
        // that ran hundreds of tests before, by 150 MB once), the second must be flat. A leak grows both.
        // The deadline is generous for a shared CPU (about 15 s per half on an idle 2-core machine).
        var first = await LoadDriver.RunAsync(host.Client, images, 2500, 16, TimeSpan.FromSeconds(150));
        GC.Collect();
        var rssMiddle = RssBytes();
        var second = await LoadDriver.RunAsync(host.Client, images, 2500, 16, TimeSpan.FromSeconds(150));
        GC.Collect();
        var rssAfter = RssBytes();
        Report("load, first half", first);
        Report("load, second half", second);
        TestContext.Out.WriteLine($"RSS before {rssBefore / 1048576} MiB, after 2,500 {rssMiddle / 1048576} MiB, after 5,000 {rssAfter / 1048576} MiB (server and clients in one process)");

        foreach (var result in new[] { first, second })
        {
            Assert.That(result.Failures, Is.Zero, string.Join("\n", result.FailureSamples));
            Assert.That(result.Requests, Is.EqualTo(2500), "all requests ran before the deadline");
        }
        // A per-request leak of even a decoded 192×192 image (147 KB) would add >350 MB per half. The first
        // half is not bounded: after the rest of the suite the process starts at up to 1.6 GB and the
        // allocator regrows by up to 300 MB under the new load (standalone, RSS falls across both halves).
        Assert.That(rssAfter - rssMiddle, Is.LessThan(100L * 1024 * 1024), "memory grows with requests");
    }

    [Test, CancelAfter(120_000)]
    public async Task ModelFileReplacedDuringLoad_VersionChanges_NoRequestFails()
    {
        var served = ServiceModels.CopyToFreshFolder(ServiceModels.First);
        await using var host = await ServiceHost.StartAsync(served, "--reload-debounce-ms", "200");
        var classifier = host.Services.GetRequiredService<ReloadingImageClassifier>();
        var oldVersion = classifier.Model.Version;
        var swapped = new TaskCompletionSource<ServedModel>(TaskCreationOptions.RunContinuationsAsynchronously);
        classifier.ModelChanged += m => swapped.TrySetResult(m);
        var images = Images();

        var swappedAtRequest = -1;
        var copier = Task.Run(async () =>
        {
            await Task.Delay(1500);
            // A plain overwrite (not an atomic rename): the watcher sees a half-written file first.
            File.Copy(ServiceModels.Second, served, overwrite: true);
        });
        // Keep loading until 300 requests after the swap, so calls overlap both models and the retirement.
        var result = await LoadDriver.RunAsync(host.Client, images, 6000, 16, TimeSpan.FromSeconds(60), i =>
        {
            if (swapped.Task.IsCompleted && swappedAtRequest < 0)
                Interlocked.CompareExchange(ref swappedAtRequest, i, -1);
            return swappedAtRequest < 0 || i < swappedAtRequest + 300;
        });
        await copier;
        Report("load during reload", result);
        TestContext.Out.WriteLine($"reloads {classifier.Reloads}, last error {classifier.LastReloadError ?? "none"}, swapped at request {swappedAtRequest}");

        Assert.That(swapped.Task.IsCompleted, Is.True, "the new model was swapped in");
        var newVersion = classifier.Model.Version;
        Assert.That(newVersion, Is.Not.EqualTo(oldVersion));
        Assert.That(classifier.Model.Metadata.Seed, Is.EqualTo(2));
        Assert.That(result.Failures, Is.Zero, string.Join("\n", result.FailureSamples));
        Assert.That(result.Versions.Keys, Is.EquivalentTo(new[] { oldVersion, newVersion }), "answers came from the old model, then the new one");
        Assert.That(result.Versions[newVersion], Is.GreaterThanOrEqualTo(250));
    }

    [Test, CancelAfter(60_000)]
    public async Task BrokenReplacement_KeepsTheOldModel_ThenAGoodOneLoads()
    {
        var served = ServiceModels.CopyToFreshFolder(ServiceModels.First);
        await using var host = await ServiceHost.StartAsync(served, "--reload-debounce-ms", "150");
        var classifier = host.Services.GetRequiredService<ReloadingImageClassifier>();
        var oldVersion = classifier.Model.Version;
        var image = Images()[0];

        // A truncated copy of a real model: a zip whose end is missing.
        var truncated = File.ReadAllBytes(ServiceModels.Second)[..100_000];
        await File.WriteAllBytesAsync(served, truncated);
        await WaitFor(() => classifier.LastReloadError is not null, "the broken file to be tried");
        Assert.That(classifier.Model.Version, Is.EqualTo(oldVersion));
        Assert.That(classifier.LastReloadError, Does.Contain("damaged").Or.Contain("truncated").Or.Contain("could not be loaded"));
        using (var stillServing = await host.Client.PostAsync("predict", new ByteArrayContent(image)))
            Assert.That((int)stillServing.StatusCode, Is.EqualTo(200));
        using (var model = await host.Client.GetAsync("model"))
            Assert.That(await model.Content.ReadAsStringAsync(), Does.Contain("\"lastReloadError\":\"").And.Contain(oldVersion));

        File.Copy(ServiceModels.Second, served, overwrite: true);
        await WaitFor(() => classifier.Model.Version != oldVersion, "the good file to load");
        Assert.That(classifier.LastReloadError, Is.Null);
        Assert.That(classifier.Reloads, Is.EqualTo(1));
    }

    private static async Task WaitFor(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(20))
                Assert.Fail($"timed out waiting for {what}");
            await Task.Delay(50);
        }
    }
}
