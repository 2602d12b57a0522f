using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using MLTransfer.Cli.Benchmarks;
using MLTransfer.Inference.Hosting;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;

namespace MLTransfer.Tests.Service;

/// <summary>
/// Huge images sent at once: answered 200 or 503 with Retry-After, never 500 or an out-of-memory, with the
/// memory of decodes in flight bounded. The server runs in this process, so its memory is read from
/// <c>/proc/self/status</c>.
/// </summary>
[TestFixture, NonParallelizable]
public class ServiceDecodeBudgetTests
{
    private const long MiB = 1024 * 1024;

    private static ByteArrayContent Raw(byte[] bytes)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        return content;
    }

    private static byte[] Photo() => File.ReadAllBytes(ServiceModels.SampleImages(1)[0].Path);

    /// <summary>Sends <paramref name="count"/> requests at once and returns each status with its Retry-After.</summary>
    private static async Task<(HttpStatusCode Status, string Body, TimeSpan? RetryAfter)[]> AllAtOnce(HttpClient client, byte[] image, int count)
    {
        using var start = new SemaphoreSlim(0);
        var requests = Enumerable.Range(0, count).Select(async _ =>
        {
            await start.WaitAsync();
            using var response = await client.PostAsync("predict", Raw(image));
            return (response.StatusCode, await response.Content.ReadAsStringAsync(), response.Headers.RetryAfter?.Delta);
        }).ToArray();
        start.Release(count);
        return await Task.WhenAll(requests);
    }

    /// <summary>
    /// The most the process's resident memory rose above its level at the start while <paramref name="work"/>
    /// ran: the kernel's high-water mark, reset first; where that cannot be reset, a 2 ms sample of VmRSS.
    /// </summary>
    private static async Task<long> PeakGrowth(Func<Task> work)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var reset = PeakMemory.TryResetPeak();
        var before = PeakMemory.CurrentBytes();
        long sampled = before;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                sampled = Math.Max(sampled, PeakMemory.CurrentBytes());
                await Task.Delay(2);
            }
        });
        await work();
        stop.Cancel();
        await sampler;
        var peak = reset ? Math.Max(PeakMemory.PeakBytes(), sampled) : sampled;
        return peak - before;
    }

    private static void AssertBusyOrOk((HttpStatusCode Status, string Body, TimeSpan? RetryAfter)[] answers)
    {
        foreach (var (status, body, retryAfter) in answers)
        {
            Assert.That(status, Is.EqualTo(HttpStatusCode.OK).Or.EqualTo(HttpStatusCode.ServiceUnavailable), body);
            if (status != HttpStatusCode.ServiceUnavailable)
                continue;
            Assert.That(retryAfter, Is.EqualTo(TimeSpan.FromSeconds(1)), "503 says when to retry");
            var problem = JsonDocument.Parse(body).RootElement;
            Assert.That(problem.GetProperty("title").GetString(), Is.Not.Empty);
            Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("decode budget"));
        }
    }

    [Test, CancelAfter(180_000)]
    public async Task HugePng_SixAtOnce_Are200Or503_PeakMemoryStaysSmall_AndAPhotoIsAnsweredAfter()
    {
        var served = ServiceModels.CopyToFreshFolder(ServiceModels.First);
        await using var host = await ServiceHost.StartAsync(served);
        // 9999×9999 of one colour: 300 KB on the wire, under the 100-megapixel limit, 381 MiB as a bitmap.
        var huge = GeneratedPng.Solid(9999, 9999, 200, 60, 30);
        TestContext.Out.WriteLine($"PNG of {huge.Length / 1024} KB");

        // Warm up at the same concurrency, so engines, threads and the allocator are at their working size.
        await AllAtOnce(host.Client, Photo(), 6);
        await AllAtOnce(host.Client, huge, 2);

        (HttpStatusCode Status, string Body, TimeSpan? RetryAfter)[] answers = [];
        var growth = await PeakGrowth(async () => answers = await AllAtOnce(host.Client, huge, 6));
        TestContext.Out.WriteLine($"statuses {string.Join(", ", answers.Select(a => (int)a.Status))}; peak RSS growth {growth / MiB} MiB");

        AssertBusyOrOk(answers);
        Assert.That(answers.Count(a => a.Status == HttpStatusCode.OK), Is.GreaterThan(0));
        // Before, each request held a full bitmap, a copy and mipmaps: 890 MiB (six at once: over 5 GB).
        Assert.That(growth, Is.LessThan(300 * MiB), "peak memory growth while six huge PNGs were decoded");

        using var after = await host.Client.PostAsync("predict", Raw(Photo()));
        Assert.That(after.StatusCode, Is.EqualTo(HttpStatusCode.OK), await after.Content.ReadAsStringAsync());
    }

    [Test, CancelAfter(180_000)]
    public async Task ImagesSkiaDecodesInFull_AreAdmittedOneAtATime_WithinTheBudget()
    {
        // Interlaced PNGs are not decoded row by row: each of these costs 286 MiB (bitmap, mipmaps and Skia's
        // interlace buffer), so a budget of 300 MiB lets one decode at a time and refuses the rest with 503.
        var served = ServiceModels.CopyToFreshFolder(ServiceModels.First);
        await using var host = await ServiceHost.StartAsync(served, "--decode-budget-mb", "300");
        var budget = host.Services.GetRequiredService<ReloadingImageClassifier>().DecodeBudget!;
        var interlaced = GeneratedPng.Solid(6000, 6000, 20, 120, 220, interlaced: true);
        await AllAtOnce(host.Client, Photo(), 4);

        (HttpStatusCode Status, string Body, TimeSpan? RetryAfter)[] answers = [];
        var growth = await PeakGrowth(async () => answers = await AllAtOnce(host.Client, interlaced, 4));
        TestContext.Out.WriteLine($"statuses {string.Join(", ", answers.Select(a => (int)a.Status))}; peak RSS growth {growth / MiB} MiB; " +
                                  $"budget peak {budget.PeakBytes / MiB} MiB, refusals {budget.Refusals}");

        AssertBusyOrOk(answers);
        Assert.That(answers.Count(a => a.Status == HttpStatusCode.OK), Is.GreaterThan(0));
        Assert.That(budget.PeakBytes, Is.LessThanOrEqualTo(budget.CapacityBytes));
        Assert.That(budget.InUseBytes, Is.Zero, "every reservation was released");
        // One decode is about 290 MiB; two at once would be 580.
        Assert.That(growth, Is.LessThan(450 * MiB));
    }

    [Test, CancelAfter(120_000)]
    public async Task FullBudget_Is503WithRetryAfter_ForSingleAndBatch_UntilReleased()
    {
        var served = ServiceModels.CopyToFreshFolder(ServiceModels.First);
        await using var host = await ServiceHost.StartAsync(served, "--decode-budget-mb", "64");
        var budget = host.Services.GetRequiredService<ReloadingImageClassifier>().DecodeBudget!;
        Assert.That(budget.CapacityBytes, Is.EqualTo(64 * MiB));
        var photo = Photo();

        using (budget.Reserve(budget.CapacityBytes))
        {
            var answers = await AllAtOnce(host.Client, photo, 1);
            Assert.That(answers[0].Status, Is.EqualTo(HttpStatusCode.ServiceUnavailable), answers[0].Body);
            AssertBusyOrOk(answers);
            Assert.That(answers[0].Body, Does.Not.Contain("   at ").And.Not.Contain("Exception"));

            var form = new MultipartFormDataContent { { new ByteArrayContent(photo), "image", "a.jpg" } };
            using var batch = await host.Client.PostAsync("predict/batch", form);
            Assert.That(batch.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            var item = JsonDocument.Parse(await batch.Content.ReadAsStringAsync()).RootElement.GetProperty("results")[0];
            Assert.That(item.GetProperty("status").GetInt32(), Is.EqualTo(503));
            Assert.That(item.GetProperty("error").GetString(), Does.Contain("Send it again"));
        }

        using var ok = await host.Client.PostAsync("predict", Raw(photo));
        Assert.That(ok.StatusCode, Is.EqualTo(HttpStatusCode.OK));
    }
}
