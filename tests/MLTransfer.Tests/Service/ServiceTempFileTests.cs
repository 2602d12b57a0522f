using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using NUnit.Framework;

namespace MLTransfer.Tests.Service;

/// <summary>
/// Loading a model zip makes ML.NET write the embedded ONNX graph to a temporary file
/// (<c>Path.GetRandomFileName()</c>, e.g. <c>nsrvewkr.v1m</c>, in <c>$TMPDIR</c>) that is deleted only when the
/// model is disposed. The classifier loads the zip with ML.NET only to verify it and then disposes that model
/// (predictions run the fused graph in ONNX Runtime), so a serving process keeps no such file. The service runs
/// as a child process with its own TMPDIR, reloads several times and shuts down on SIGTERM; none may be left behind.
/// </summary>
[TestFixture, NonParallelizable]
public partial class ServiceTempFileTests
{
    [GeneratedRegex(@"^[a-z0-9]{8}\.[a-z0-9]{3}$")]
    private static partial Regex MlNetTempName();

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int signal);

    private const int SigTerm = 15;

    private static string[] OnnxTempFiles(string dir) =>
        Directory.GetFiles(dir, "*", SearchOption.AllDirectories).Where(f => MlNetTempName().IsMatch(Path.GetFileName(f))).ToArray();

    [Test, CancelAfter(120_000)]
    public async Task ReloadsAndShutdown_LeaveNoOnnxTempFiles()
    {
        var tmp = Directory.CreateTempSubdirectory("mlt-service-tmpdir-").FullName;
        var served = ServiceModels.CopyToFreshFolder(ServiceModels.First);
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Path.Combine(TestContext.CurrentContext.TestDirectory, "MLTransfer.Service.dll"), "--model", served, "--urls", "http://127.0.0.1:0", "--reload-debounce-ms", "100" })
            start.ArgumentList.Add(a);
        start.Environment["TMPDIR"] = tmp;
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        using var process = Process.Start(start)!;
        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            output.Enqueue(e.Data);
            var m = Regex.Match(e.Data, @"Now listening on: (http://127\.0\.0\.1:\d+)");
            if (m.Success) listening.TrySetResult(new Uri(m.Groups[1].Value + "/"));
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) output.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            var address = await listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
            using var client = new HttpClient { BaseAddress = address };
            Assert.That(OnnxTempFiles(tmp), Is.Empty, "the ML.NET chain used to verify the model is released, with its ONNX copy");
            var image = File.ReadAllBytes(ServiceModels.SampleImages(1)[0].Path);

            const int reloads = 6;
            var version = await Version(client);
            for (var i = 0; i < reloads; i++)
            {
                File.Copy(i % 2 == 0 ? ServiceModels.Second : ServiceModels.First, served, overwrite: true);
                version = await WaitForNewVersion(client, version);
                using var predicted = await client.PostAsync("predict", new ByteArrayContent(image));
                Assert.That((int)predicted.StatusCode, Is.EqualTo(200));
                await WaitUntil(() => OnnxTempFiles(tmp).Length == 0, $"no ONNX temp file after reload {i + 1}, found: {string.Join(", ", OnnxTempFiles(tmp))}");
            }
            TestContext.Out.WriteLine($"after {reloads} reloads: {OnnxTempFiles(tmp).Length} ONNX temp file(s) in TMPDIR");

            Assert.That(kill(process.Id, SigTerm), Is.Zero, "SIGTERM sent");
            Assert.That(process.WaitForExit(30_000), Is.True, "the service stops on SIGTERM");
            Assert.That(process.ExitCode, Is.Zero, string.Join("\n", output));
            var left = OnnxTempFiles(tmp);
            TestContext.Out.WriteLine($"after SIGTERM: {left.Length} ONNX temp file(s); all files left in TMPDIR: {string.Join(", ", Directory.GetFiles(tmp).Select(Path.GetFileName))}");
            Assert.That(left, Is.Empty, "the shutdown disposes the model, which deletes ML.NET's temp file");
        }
        finally
        {
            if (!process.HasExited)
                process.Kill(entireProcessTree: true);
            Directory.Delete(tmp, true);
            Directory.Delete(Path.GetDirectoryName(served)!, true);
        }
    }

    private static async Task<string> Version(HttpClient client) =>
        JsonDocument.Parse(await client.GetStringAsync("healthz")).RootElement.GetProperty("modelVersion").GetString()!;

    private static async Task<string> WaitForNewVersion(HttpClient client, string old)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            var v = await Version(client);
            if (v != old)
                return v;
            await Task.Delay(50);
        }
        Assert.Fail("the service did not reload the replaced model within 20 s");
        return old;
    }

    private static async Task WaitUntil(Func<bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(5))
                Assert.Fail($"timed out waiting for {what}");
            await Task.Delay(25);
        }
    }
}
