using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using MLTransfer.Inference.Hosting;
using NUnit.Framework;

namespace MLTransfer.Tests.Service;

/// <summary>
/// The classifier's meter, read with a <see cref="MeterListener"/> while requests are made: predictions by class,
/// latency, decode failures, budget refusals (503), reloads and failed reloads, the serving model's version; and
/// the same meter exported over OTLP when (and only when) an endpoint is configured.
/// </summary>
[TestFixture, NonParallelizable]
public class ServiceMetricsTests
{
    private sealed class Recorder : IDisposable
    {
        private readonly MeterListener _listener = new();
        public ConcurrentQueue<(string Name, double Value, Dictionary<string, object?> Tags)> Measurements { get; } = new();

        public Recorder(Meter meter)
        {
            // Only this host's meter: other tests' hosts create meters of the same name.
            _listener.InstrumentPublished = (instrument, l) => { if (ReferenceEquals(instrument.Meter, meter)) l.EnableMeasurementEvents(instrument); };
            _listener.SetMeasurementEventCallback<long>((i, v, tags, _) => Add(i, v, tags));
            _listener.SetMeasurementEventCallback<int>((i, v, tags, _) => Add(i, v, tags));
            _listener.SetMeasurementEventCallback<double>((i, v, tags, _) => Add(i, v, tags));
            _listener.Start();
        }

        private void Add(Instrument i, double v, ReadOnlySpan<KeyValuePair<string, object?>> tags) =>
            Measurements.Enqueue((i.Name, v, tags.ToArray().ToDictionary(t => t.Key, t => t.Value)));

        public void Observe() => _listener.RecordObservableInstruments();

        public double Sum(string name, string? tag = null, object? value = null) =>
            Measurements.Where(m => m.Name == name && (tag is null || Equals(m.Tags.GetValueOrDefault(tag), value))).Sum(m => m.Value);

        public int Count(string name) => Measurements.Count(m => m.Name == name);

        public void Dispose() => _listener.Dispose();
    }

    private static ByteArrayContent Raw(byte[] bytes) => new(bytes) { Headers = { ContentType = new("application/octet-stream") } };

    [Test, CancelAfter(120_000)]
    public async Task Instruments_CountPredictionsRefusalsAndReloads_AndTagTheModelVersion()
    {
        var served = ServiceModels.CopyToFreshFolder(ServiceModels.First);
        await using var host = await ServiceHost.StartAsync(served, "--reload-debounce-ms", "150");
        var classifier = host.Services.GetRequiredService<ReloadingImageClassifier>();
        var meter = host.Services.GetRequiredService<IMeterFactory>().Create(ReloadingImageClassifier.MeterName);
        using var recorder = new Recorder(meter);

        var samples = ServiceModels.SampleImages(8);
        var labels = new List<string>();
        foreach (var (path, _) in samples.Take(6))
        {
            using var response = await host.Client.PostAsync("predict", Raw(await File.ReadAllBytesAsync(path)));
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            using var json = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            labels.Add(json.RootElement.GetProperty("mostProbable").GetString()!);
        }
        using (var form = new MultipartFormDataContent())
        {
            foreach (var (path, _) in samples.Skip(6).Take(2))
                form.Add(new ByteArrayContent(await File.ReadAllBytesAsync(path)), "f", Path.GetFileName(path));
            using var batch = await host.Client.PostAsync("predict/batch", form);
            Assert.That(batch.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            using var json = System.Text.Json.JsonDocument.Parse(await batch.Content.ReadAsStringAsync());
            labels.AddRange(json.RootElement.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("prediction").GetProperty("mostProbable").GetString()!));
        }
        var truncated = (await File.ReadAllBytesAsync(samples[0].Path))[..600];
        using (var bad = await host.Client.PostAsync("predict", Raw(truncated)))
            Assert.That(bad.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        using (classifier.DecodeBudget!.Reserve(classifier.DecodeBudget.CapacityBytes))
        using (var busy = await host.Client.PostAsync("predict", Raw(await File.ReadAllBytesAsync(samples[0].Path))))
            Assert.That(busy.StatusCode, Is.EqualTo(HttpStatusCode.ServiceUnavailable));

        Assert.That(recorder.Sum("mltransfer.predictions"), Is.EqualTo(8));
        foreach (var label in labels.Distinct())
            Assert.That(recorder.Sum("mltransfer.predictions", "class", label), Is.EqualTo(labels.Count(l => l == label)), label);
        Assert.That(recorder.Count("mltransfer.prediction.duration"), Is.EqualTo(8));
        Assert.That(recorder.Measurements.Where(m => m.Name == "mltransfer.prediction.duration").Select(m => m.Value), Is.All.GreaterThan(0).And.All.LessThan(60_000));
        Assert.That(recorder.Sum("mltransfer.decode.failures"), Is.EqualTo(1));
        Assert.That(recorder.Sum("mltransfer.decode.budget_refusals"), Is.EqualTo(1));

        var first = classifier.Model.Version;
        recorder.Observe();
        Assert.That(recorder.Sum("mltransfer.model.version", "version", first), Is.EqualTo(1));

        await File.WriteAllBytesAsync(served, (await File.ReadAllBytesAsync(ServiceModels.Second))[..100_000]);
        await WaitFor(() => recorder.Sum("mltransfer.model.failed_reloads") == 1, "the failed reload to be counted");
        File.Copy(ServiceModels.Second, served, overwrite: true);
        await WaitFor(() => recorder.Sum("mltransfer.model.reloads") == 1, "the reload to be counted");
        var second = classifier.Model.Version;
        Assert.That(second, Is.Not.EqualTo(first));
        var before = recorder.Measurements.Count;
        recorder.Observe();
        var versions = recorder.Measurements.Skip(before).Where(m => m.Name == "mltransfer.model.version").ToList();
        Assert.That(versions.Select(m => (m.Tags["version"], m.Value)), Is.EqualTo(new[] { ((object?)second, 1.0) }), "one series: the model serving now");
    }

    [Test, CancelAfter(90_000)]
    public async Task OtlpEndpoint_ReceivesTheMetrics_OverHttpProtobuf()
    {
        using var collector = new TcpListener(IPAddress.Loopback, 0);
        collector.Start();
        var port = ((IPEndPoint)collector.LocalEndpoint).Port;
        var received = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = new CancellationTokenSource();
        var accept = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var socket = await collector.AcceptTcpClientAsync(stop.Token);
                var request = await ReadHttpRequest(socket.GetStream(), stop.Token);
                await socket.GetStream().WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray(), stop.Token);
                // Protobuf keeps strings as UTF-8, so instrument names can be found in the raw body.
                if (request.Contains("mltransfer.predictions", StringComparison.Ordinal))
                    received.TrySetResult(request);
            }
        });

        await using var host = await ServiceHost.StartAsync(ServiceModels.CopyToFreshFolder(ServiceModels.First),
            "--otlp-endpoint", $"http://127.0.0.1:{port}", "--otlp-interval-ms", "300");
        using (var response = await host.Client.PostAsync("predict", Raw(await File.ReadAllBytesAsync(ServiceModels.SampleImages(1)[0].Path))))
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var request = await received.Task.WaitAsync(TimeSpan.FromSeconds(30));
        stop.Cancel();
        Assert.That(request, Does.StartWith("POST /v1/metrics HTTP/1.1"));
        Assert.That(request, Does.Contain("application/x-protobuf"));
        Assert.That(request, Does.Contain("mltransfer.prediction.duration").And.Contain(ReloadingImageClassifier.MeterName));
    }

    /// <summary>Headers and body of one HTTP/1.1 request, as text.</summary>
    private static async Task<string> ReadHttpRequest(NetworkStream stream, CancellationToken cancel)
    {
        var buffer = new MemoryStream();
        var chunk = new byte[8192];
        int? total = null;
        while (total is null || buffer.Length < total)
        {
            var n = await stream.ReadAsync(chunk, cancel);
            if (n == 0)
                break;
            buffer.Write(chunk, 0, n);
            var text = Encoding.Latin1.GetString(buffer.ToArray());
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (total is null && end >= 0)
            {
                var length = text.Split("\r\n").FirstOrDefault(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase));
                total = end + 4 + (length is null ? 0 : int.Parse(length["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        return Encoding.Latin1.GetString(buffer.ToArray());
    }

    private static async Task WaitFor(Func<bool> condition, string what)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(30))
                Assert.Fail($"timed out waiting for {what}");
            await Task.Delay(50);
        }
    }
}
