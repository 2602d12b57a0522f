using System.Text.Json;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Tests.Service;
using NUnit.Framework;

namespace MLTransfer.Tests.Benchmarks;

/// <summary>Smoke test of <c>mltransfer bench</c> with tiny settings: it runs end to end and every figure is there and positive.</summary>
[TestFixture, NonParallelizable]
public class BenchCommandTests
{
    [Test]
    public void Bench_OnSamples_ReportsEveryFigureAsJson()
    {
        // Ten images per class of the bundled samples keep the run short while every phase still has work.
        using var data = new TempDataset();
        foreach (var folder in Directory.GetDirectories(Path.Combine(TestPaths.RepoRoot, "data-samples")))
            foreach (var file in Directory.GetFiles(folder, "*.jpg").Order(StringComparer.Ordinal).Take(10))
            {
                var target = data.PathOf(Path.Combine(Path.GetFileName(folder), Path.GetFileName(file)));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                File.Copy(file, target);
            }
        var result = CliRunner.Run(["bench", "--data", data.Root, "--backbone", TestPaths.SharedModel("mobilenet_v2_1.0_224.onnx"),
            "--offline", "--seconds", "0.05", "--decode-samples", "4", "--predict-samples", "4", "--synthetic-copies", "2", "--compare-random", "--json"], TimeSpan.FromMinutes(3));
        Assert.That(result.ExitCode, Is.Zero, result.StdErr);
        var r = JsonDocument.Parse(result.StdOut).RootElement;

        Assert.That(r.GetProperty("backbone").GetString(), Is.EqualTo("mobilenet-v2"));
        Assert.That(r.GetProperty("datasetImages").GetInt32(), Is.EqualTo(40));
        foreach (var (section, field) in new[]
        {
            ("decode", "singleThreadImagesPerSecond"), ("decode", "parallelImagesPerSecond"),
            ("coldExtraction", "imagesPerSecond"), ("coldExtraction", "ratioToForward"),
            ("training", "coldSeconds"), ("training", "warmSeconds"), ("training", "accuracy"),
            ("predict", "p50Milliseconds"), ("predict", "p99Milliseconds"), ("predict", "ratioToForwardBatch1"),
        })
            Assert.That(r.GetProperty(section).GetProperty(field).GetDouble(), Is.GreaterThan(0), $"{section}.{field}");
        Assert.That(r.GetProperty("forward").EnumerateArray().Select(f => (f.GetProperty("batchSize").GetInt32(), f.GetProperty("spinning").GetBoolean())),
            Is.EqualTo(new[] { (1, false), (8, false), (32, false), (1, true) }), "each batch size, then batch 1 with ONNX Runtime's default threads");
        Assert.That(r.GetProperty("forward").EnumerateArray().Select(f => f.GetProperty("imagesPerSecond").GetDouble()), Is.All.GreaterThan(0));
        Assert.That(r.GetProperty("coldExtraction").GetProperty("images").GetInt32(), Is.EqualTo(40));
        Assert.That(r.GetProperty("training").GetProperty("warmExtracted").GetInt32(), Is.Zero, "the warm retrain must not run the backbone");
        Assert.That(r.GetProperty("peakRssBytes").GetInt64(), Is.GreaterThan(0));

        var scaling = r.GetProperty("scaling").EnumerateArray().ToList();
        Assert.That(scaling.Select(s => s.GetProperty("copies").GetInt32()), Is.EqualTo(new[] { 1, 2 }));
        Assert.That(scaling.Select(s => s.GetProperty("images").GetInt32()), Is.EqualTo(new[] { 40, 80 }));
        Assert.That(scaling.Select(s => s.GetProperty("peakRssBytes").GetInt64()), Is.All.GreaterThan(0));

        var comparison = r.GetProperty("randomComparison");
        Assert.That(comparison.GetProperty("pretrainedAccuracy").GetDouble(), Is.GreaterThan(0));
        Assert.That(comparison.GetProperty("randomAccuracy").GetDouble(), Is.GreaterThanOrEqualTo(0));
    }

    [Test, CancelAfter(180_000)]
    public async Task BenchService_LoadsARunningService_AndReportsRequestsPerSecond()
    {
        await using var host = await ServiceHost.StartAsync(ServiceModels.CopyToFreshFolder(ServiceModels.First));
        // The CLI runs as a child process; the service answers on this process's thread pool meanwhile.
        var result = await Task.Run(() => CliRunner.Run(["bench", "--data", ServiceModels.SamplesDir, "--service", host.Address.ToString(),
            "--service-clients", "4", "--service-requests", "40", "--decode-samples", "8", "--json"], TimeSpan.FromMinutes(2)));
        Assert.That(result.ExitCode, Is.Zero, result.StdErr);
        var r = JsonDocument.Parse(result.StdOut).RootElement;
        Assert.That(r.GetProperty("clients").GetInt32(), Is.EqualTo(4));
        Assert.That(r.GetProperty("requests").GetInt32(), Is.EqualTo(40));
        Assert.That(r.GetProperty("ok").GetInt32(), Is.EqualTo(40));
        Assert.That(r.GetProperty("failures").GetInt32(), Is.Zero);
        foreach (var field in new[] { "requestsPerSecond", "p50Milliseconds", "p99Milliseconds" })
            Assert.That(r.GetProperty(field).GetDouble(), Is.GreaterThan(0), field);

        var closed = CliRunner.Run(["bench", "--data", ServiceModels.SamplesDir, "--service", "http://127.0.0.1:1", "--service-requests", "5"], TimeSpan.FromMinutes(2));
        Assert.That(closed.ExitCode, Is.EqualTo(1), closed.StdOut + closed.StdErr);
        Assert.That(closed.StdErr, Does.Contain("answered none").And.Contain("Start it first").And.Not.Contain("   at "));
    }
}
