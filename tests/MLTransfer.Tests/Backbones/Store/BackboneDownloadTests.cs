using System.Diagnostics;
using MLTransfer.Backbones.Store;
using NUnit.Framework;

namespace MLTransfer.Tests.Backbones.Store;

/// <summary>Downloads against a real HTTP server on 127.0.0.1.</summary>
[TestFixture]
public sealed class BackboneDownloadTests : StoreTestBase
{
    [Test]
    public async Task Download_VerifiesAndCaches_SecondResolveHitsCacheWithoutHttp()
    {
        using var server = new LoopbackServer((ctx, _, _) => LoopbackServer.ServeBytes(ctx, Data));
        using var store = Store(Options(), Record("test-net", server.BaseUrl + "models/test-net.onnx"));

        var first = await store.ResolveAsync("test-net");

        Assert.That(first.How, Is.EqualTo(BackboneLocation.Downloaded));
        Assert.That(first.FilePath, Is.EqualTo(Path.Combine(CacheDir, "test-net.onnx")));
        Assert.That(first.Sha256, Is.EqualTo(DataSha));
        Assert.That(File.ReadAllBytes(first.FilePath), Is.EqualTo(Data));
        Assert.That(CacheFiles(), Is.EquivalentTo(new[] { first.FilePath }), "no .partial left behind");
        Assert.That(server.RequestCount, Is.EqualTo(1));
        Assert.That(server.Requests.Single().Path, Is.EqualTo("/models/test-net.onnx"));
        Assert.That(server.Requests.Single().Range, Is.Null);
        Assert.That(first.Reason, Does.Contain("downloaded").And.Contain("127.0.0.1"));

        var last = ProgressReports.Last();
        Assert.That(last.Completed, Is.True);
        Assert.That(last.BytesReceived, Is.EqualTo(DataSize));
        Assert.That(last.TotalBytes, Is.EqualTo(DataSize));
        Assert.That(last.Fraction, Is.EqualTo(1.0));
        Assert.That(last.BytesPerSecond, Is.GreaterThan(0));

        var second = await store.ResolveAsync("test-net");
        Assert.That(second.How, Is.EqualTo(BackboneLocation.Cache));
        Assert.That(second.Sha256, Is.EqualTo(DataSha));
        Assert.That(second.Reason, Does.Contain("cache"));
        Assert.That(server.RequestCount, Is.EqualTo(1), "the second resolve must not touch the network");
    }

    [Test]
    public async Task ChecksumMismatch_IsRefused_AndNothingIsLeftInTheCache()
    {
        using var server = new LoopbackServer((ctx, _, _) => LoopbackServer.ServeBytes(ctx, Data));
        var wrongSha = new string('a', 64);
        using var store = Store(Options(), Record("test-net", server.BaseUrl + "test-net.onnx", sha: wrongSha));

        var ex = await Assert.ThrowsAsync<BackboneIntegrityException>(() => store.ResolveAsync("test-net"));

        Assert.That(ex!.ExpectedSha256, Is.EqualTo(wrongSha));
        Assert.That(ex.ActualSha256, Is.EqualTo(DataSha));
        Assert.That(ex.Message, Does.Contain(wrongSha).And.Contain(DataSha).And.Contain("not cached"));
        Assert.That(CacheFiles(), Is.Empty, "neither the file nor a .partial may stay in the cache");
    }

    [Test]
    public async Task ServerReportingAnotherSize_IsRefusedBeforeDownloading()
    {
        using var server = new LoopbackServer((ctx, _, _) => LoopbackServer.ServeBytes(ctx, Data));
        using var store = Store(Options(retries: 3), Record("test-net", server.BaseUrl + "test-net.onnx", size: DataSize + 1));

        var ex = await Assert.ThrowsAsync<MLTransferException>(() => store.ResolveAsync("test-net"));

        Assert.That(ex!.Message, Does.Contain("expects"));
        Assert.That(server.RequestCount, Is.EqualTo(1), "a size mismatch is not retried");
        Assert.That(CacheFiles(), Has.None.EndsWith("test-net.onnx"));
    }

    [Test]
    public async Task ConnectionCutMidFile_NextAttemptResumesWithRangeRequest()
    {
        var half = DataSize / 2;
        using var server = new LoopbackServer(async (ctx, index, _) =>
        {
            if (index == 0)
            {
                ctx.Response.StatusCode = 200;
                ctx.Response.ContentLength64 = Data.Length;
                await ctx.Response.OutputStream.WriteAsync(Data.AsMemory(0, half));
                await ctx.Response.OutputStream.FlushAsync();
                await Task.Delay(200);
                ctx.Response.Abort(); // cut the connection mid-file
                return;
            }
            await LoopbackServer.ServeBytes(ctx, Data);
        });
        using var store = Store(Options(retries: 0), Record("test-net", server.BaseUrl + "test-net.onnx"));
        var partial = Path.Combine(CacheDir, "test-net.onnx.partial");

        var ex = await Assert.ThrowsAsync<MLTransferException>(() => store.ResolveAsync("test-net"));
        Assert.That(ex!.Message, Does.Contain("Could not download backbone 'test-net'"));
        Assert.That(File.Exists(partial), Is.True, "the interrupted download is kept for resuming");
        var kept = new FileInfo(partial).Length;
        Assert.That(kept, Is.GreaterThan(0).And.LessThanOrEqualTo(half));
        Assert.That(File.Exists(Path.Combine(CacheDir, "test-net.onnx")), Is.False);

        var resolved = await store.ResolveAsync("test-net");

        var requests = server.Requests.OrderBy(r => r.Index).ToArray();
        Assert.That(requests, Has.Length.EqualTo(2));
        Assert.That(requests[0].Range, Is.Null);
        Assert.That(requests[1].Range, Is.EqualTo($"bytes={kept}-"));
        Assert.That(resolved.How, Is.EqualTo(BackboneLocation.Downloaded));
        Assert.That(File.ReadAllBytes(resolved.FilePath), Is.EqualTo(Data));
        Assert.That(File.Exists(partial), Is.False);
    }

    [Test]
    public async Task ConnectionCut_IsRetriedWithinOneCall_UsingRange()
    {
        var cut = DataSize / 3;
        using var server = new LoopbackServer(async (ctx, index, _) =>
        {
            if (index == 0)
            {
                ctx.Response.ContentLength64 = Data.Length;
                await ctx.Response.OutputStream.WriteAsync(Data.AsMemory(0, cut));
                await ctx.Response.OutputStream.FlushAsync();
                await Task.Delay(200);
                ctx.Response.Abort();
                return;
            }
            await LoopbackServer.ServeBytes(ctx, Data);
        });
        using var store = Store(Options(retries: 2), Record("test-net", server.BaseUrl + "test-net.onnx"));

        var resolved = await store.ResolveAsync("test-net");

        var second = server.Requests.Single(r => r.Index == 1);
        Assert.That(second.Range, Does.Match(@"^bytes=\d+-$"));
        Assert.That(long.Parse(second.Range!["bytes=".Length..^1]), Is.GreaterThan(0).And.LessThanOrEqualTo(cut));
        Assert.That(File.ReadAllBytes(resolved.FilePath), Is.EqualTo(Data));
        Assert.That(LogLines, Has.Some.Contains("retrying"));
    }

    [Test]
    public async Task ServerIgnoringRange_With200_RestartsFromTheBeginning()
    {
        using var server = new LoopbackServer((ctx, _, _) => LoopbackServer.ServeBytes(ctx, Data, honourRange: false));
        Directory.CreateDirectory(CacheDir);
        var partial = Path.Combine(CacheDir, "test-net.onnx.partial");
        File.WriteAllBytes(partial, MakeData(1000, 99)); // stale bytes that must not survive
        using var store = Store(Options(), Record("test-net", server.BaseUrl + "test-net.onnx"));

        var resolved = await store.ResolveAsync("test-net");

        Assert.That(server.Requests.Single().Range, Is.EqualTo("bytes=1000-"));
        Assert.That(File.ReadAllBytes(resolved.FilePath), Is.EqualTo(Data));
        Assert.That(LogLines, Has.Some.Contains("ignored the Range request"));
    }

    [Test]
    public async Task StaleResumedPartial_ThatFailsVerification_IsDownloadedAgainFromScratch()
    {
        // The partial holds bytes of another file; the server honours Range, so the result mismatches once.
        using var server = new LoopbackServer((ctx, _, _) => LoopbackServer.ServeBytes(ctx, Data));
        Directory.CreateDirectory(CacheDir);
        File.WriteAllBytes(Path.Combine(CacheDir, "test-net.onnx.partial"), MakeData(5000, 7));
        using var store = Store(Options(), Record("test-net", server.BaseUrl + "test-net.onnx"));

        var resolved = await store.ResolveAsync("test-net");

        var ranges = server.Requests.OrderBy(r => r.Index).Select(r => r.Range).ToArray();
        Assert.That(ranges, Is.EqualTo(new[] { "bytes=5000-", null }));
        Assert.That(File.ReadAllBytes(resolved.FilePath), Is.EqualTo(Data));
    }

    [Test]
    public async Task NotFound_GivesClearError_WithoutRetryStorm()
    {
        using var server = new LoopbackServer((ctx, _, _) =>
        {
            ctx.Response.StatusCode = 404;
            ctx.Response.Close();
            return Task.CompletedTask;
        });
        var options = Options(retries: 5) with { RetryBaseDelay = TimeSpan.FromSeconds(2) };
        var record = Record("test-net", null) with
        {
            Urls = [server.BaseUrl + "a/test-net.onnx", server.BaseUrl + "b/test-net.onnx"],
        };
        using var store = Store(options, record);
        var clock = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<MLTransferException>(() => store.ResolveAsync("test-net"));

        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(2)), "404 must not be retried with backoff");
        Assert.That(server.RequestCount, Is.EqualTo(2), "one request per URL");
        Assert.That(ex!.Message, Does.Contain("404").And.Contain("test-net").And.Contain("/a/test-net.onnx").And.Contain("/b/test-net.onnx"));
        Assert.That(ex.Fix, Is.Not.Null.And.Not.Empty);
        Assert.That(File.Exists(Path.Combine(CacheDir, "test-net.onnx")), Is.False);
    }

    [Test]
    public async Task FirstUrlMissing_SecondUrlIsUsed()
    {
        using var server = new LoopbackServer((ctx, _, _) =>
        {
            if (ctx.Request.Url!.AbsolutePath.StartsWith("/missing/", StringComparison.Ordinal))
            {
                ctx.Response.StatusCode = 404;
                ctx.Response.Close();
                return Task.CompletedTask;
            }
            return LoopbackServer.ServeBytes(ctx, Data);
        });
        var record = Record("test-net", null) with
        {
            Urls = [server.BaseUrl + "missing/test-net.onnx", server.BaseUrl + "mirror/test-net.onnx"],
        };
        using var store = Store(Options(retries: 3), record);

        var resolved = await store.ResolveAsync("test-net");

        Assert.That(resolved.How, Is.EqualTo(BackboneLocation.Downloaded));
        Assert.That(server.RequestCount, Is.EqualTo(2));
    }

    [Test]
    public async Task ServerError503_IsRetriedWithBackoff_ThenSucceeds()
    {
        using var server = new LoopbackServer((ctx, index, _) =>
        {
            if (index < 2)
            {
                ctx.Response.StatusCode = 503;
                ctx.Response.Close();
                return Task.CompletedTask;
            }
            return LoopbackServer.ServeBytes(ctx, Data);
        });
        using var store = Store(Options(retries: 3), Record("test-net", server.BaseUrl + "test-net.onnx"));

        var resolved = await store.ResolveAsync("test-net");

        Assert.That(server.RequestCount, Is.EqualTo(3));
        Assert.That(resolved.Sha256, Is.EqualTo(DataSha));
        Assert.That(LogLines.Count(l => l.Contains("503") && l.Contains("retrying")), Is.EqualTo(2));
    }

    [Test]
    public async Task StalledBody_TimesOut_WithinBoundedTime()
    {
        using var server = new LoopbackServer(async (ctx, _, stop) =>
        {
            ctx.Response.ContentLength64 = Data.Length;
            await ctx.Response.OutputStream.WriteAsync(Data.AsMemory(0, 4096), stop);
            await ctx.Response.OutputStream.FlushAsync(stop);
            await Task.Delay(TimeSpan.FromSeconds(30), stop); // stall far longer than the timeout
        });
        var options = Options(retries: 1, timeoutSeconds: 1);
        using var store = Store(options, Record("test-net", server.BaseUrl + "test-net.onnx"));
        var clock = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<MLTransferException>(() => store.ResolveAsync("test-net"));

        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(8)));
        Assert.That(ex!.Message, Does.Contain("no data for 1 s"));
        Assert.That(server.RequestCount, Is.EqualTo(2), "first attempt + one retry");
        Assert.That(File.Exists(Path.Combine(CacheDir, "test-net.onnx")), Is.False);
    }

    [Test]
    public async Task StalledHeaders_TimeOut_WithinBoundedTime()
    {
        using var server = new LoopbackServer(async (ctx, _, stop) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(30), stop); // never answers
        });
        using var store = Store(Options(retries: 0, timeoutSeconds: 1), Record("test-net", server.BaseUrl + "test-net.onnx"));
        var clock = Stopwatch.StartNew();

        var ex = await Assert.ThrowsAsync<MLTransferException>(() => store.ResolveAsync("test-net"));

        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(5)));
        Assert.That(ex!.Message, Does.Contain("no response within 1 s"));
    }

    [Test]
    public async Task Pull_DownloadsIntoCache_EvenWhenAutomaticDownloadsAreOff()
    {
        using var server = new LoopbackServer((ctx, _, _) => LoopbackServer.ServeBytes(ctx, Data));
        using var store = Store(Options() with { AllowDownload = false }, Record("test-net", server.BaseUrl + "test-net.onnx"));

        await Assert.ThrowsAsync<MLTransferException>(() => store.ResolveAsync("test-net"));
        Assert.That(server.RequestCount, Is.Zero);

        var pulled = await store.PullAsync("test-net");
        Assert.That(pulled.How, Is.EqualTo(BackboneLocation.Downloaded));

        var again = await store.PullAsync("test-net");
        Assert.That(again.How, Is.EqualTo(BackboneLocation.Cache));
        Assert.That(server.RequestCount, Is.EqualTo(1));
    }

    [Test]
    public async Task Pull_ReplacesACorruptCachedFile()
    {
        using var server = new LoopbackServer((ctx, _, _) => LoopbackServer.ServeBytes(ctx, Data));
        Directory.CreateDirectory(CacheDir);
        File.WriteAllBytes(Path.Combine(CacheDir, "test-net.onnx"), MakeData(DataSize, 5));
        using var store = Store(Options(), Record("test-net", server.BaseUrl + "test-net.onnx"));

        var pulled = await store.PullAsync("test-net");

        Assert.That(pulled.How, Is.EqualTo(BackboneLocation.Downloaded));
        Assert.That(File.ReadAllBytes(pulled.FilePath), Is.EqualTo(Data));
    }
}
