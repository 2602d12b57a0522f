using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using MLTransfer.Inference.Hosting;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;

namespace MLTransfer.Tests.Service;

/// <summary>
/// The service's "I don't know": a satellite photo sent to the clip-art model comes back with no label and the
/// out-of-domain reason, <c>?minConfidence=</c> (and the service's <c>--min-confidence</c> default) withholds
/// uncertain answers, abstentions are counted on the meter, and a threshold outside 0..1 is a 400.
/// </summary>
[TestFixture, NonParallelizable]
public class ServiceAbstentionTests
{
    private ServiceHost _host = null!;
    private string _served = null!;
    private Meter _meter = null!;
    private readonly List<(string Reason, long Count)> _abstentions = [];
    private MeterListener _listener = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _served = ServiceModels.CopyToFreshFolder(ServiceModels.First);
        _host = await ServiceHost.StartAsync(_served);
        _meter = _host.Services.GetRequiredService<IMeterFactory>().Create(ReloadingImageClassifier.MeterName);
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter, _meter) && instrument.Name == "mltransfer.abstentions")
                    l.EnableMeasurementEvents(instrument);
            },
        };
        _listener.SetMeasurementEventCallback<long>((_, v, tags, _) =>
        {
            lock (_abstentions)
                _abstentions.Add(((string)tags.ToArray().First(t => t.Key == "reason").Value!, v));
        });
        _listener.Start();
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        _listener.Dispose();
        await _host.DisposeAsync();
        Directory.Delete(Path.GetDirectoryName(_served)!, true);
    }

    private static ByteArrayContent Raw(byte[] bytes) => new(bytes) { Headers = { ContentType = new("application/octet-stream") } };

    private async Task<JsonElement> Predict(byte[] image, string query = "")
    {
        using var response = await _host.Client.PostAsync("predict" + query, Raw(image));
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), text);
        return JsonDocument.Parse(text).RootElement;
    }

    private long Abstained(string reason)
    {
        lock (_abstentions)
            return _abstentions.Where(a => a.Reason == reason).Sum(a => a.Count);
    }

    [Test]
    public async Task ASatellitePhoto_IsOutOfDomain_AndGetsNoLabel()
    {
        // Every satellite photo tried, not one picked: the clip-art model must not name a class for most of them.
        var photos = Directory.GetDirectories(TestPaths.SharedDataset("eurosat_rgb")).Order(StringComparer.Ordinal).Take(6)
            .Select(d => Directory.GetFiles(d, "*.jpg").Order(StringComparer.Ordinal).First()).ToList();
        Assert.That(photos, Has.Count.EqualTo(6), "eurosat_rgb photos under ../shared");
        var before = Abstained("OutOfDomain");
        var outOfDomain = 0;
        foreach (var photo in photos)
        {
            var json = await Predict(File.ReadAllBytes(photo));
            if (json.GetProperty("abstention").GetString() != "OutOfDomain")
                continue;
            outOfDomain++;
            Assert.That(json.GetProperty("label").ValueKind, Is.EqualTo(JsonValueKind.Null), "no label when the model abstains");
            Assert.That(json.GetProperty("isConfident").GetBoolean(), Is.False);
            Assert.That(json.GetProperty("mostProbable").GetString(), Is.Not.Empty, "the most probable class is still told");
            Assert.That(json.GetProperty("outOfDomainScore").GetSingle(), Is.GreaterThan(json.GetProperty("outOfDomainThreshold").GetSingle()));
        }
        Assert.That(outOfDomain, Is.GreaterThanOrEqualTo(5), $"{outOfDomain}/6 satellite photos judged out of domain");
        Assert.That(Abstained("OutOfDomain") - before, Is.EqualTo(outOfDomain), "each abstention counted on the meter");
    }

    /// <summary>
    /// The in-domain sample the model is least sure of: on its own training pictures it is often certain to the
    /// last bit of a float, and a threshold above 1 cannot exist.
    /// </summary>
    private static byte[] LeastSureSample()
    {
        using var classifier = MLTransfer.Inference.ImageClassifier.Load(ServiceModels.First);
        var (path, probability) = ServiceModels.SampleImages(40).Select(s => (s.Path, P: classifier.Predict(s.Path)))
            .Where(x => x.P.IsConfident).Select(x => (x.Path, x.P.Probability)).MinBy(x => x.Probability);
        Assert.That(probability, Is.LessThan(1f), "some sample the model is not certain of");
        return File.ReadAllBytes(path);
    }

    [Test]
    public async Task MinConfidence_WithholdsAnAnswerBelowIt_AndNotAtIt()
    {
        var image = LeastSureSample();
        var plain = await Predict(image);
        Assert.That(plain.GetProperty("isConfident").GetBoolean(), Is.True, plain.ToString());
        var p = plain.GetProperty("probability").GetSingle();
        Assert.That(p, Is.LessThan(1f), "a calibrated probability leaves room above it");
        var above = (p + 1) / 2;

        var withheld = await Predict(image, $"?minConfidence={above.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}");
        Assert.That(withheld.GetProperty("label").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(withheld.GetProperty("abstention").GetString(), Is.EqualTo("LowProbability"));
        Assert.That(withheld.GetProperty("mostProbable").GetString(), Is.EqualTo(plain.GetProperty("label").GetString()));
        Assert.That(withheld.GetProperty("minConfidence").GetSingle(), Is.EqualTo(above).Within(1e-6));

        var kept = await Predict(image, $"?minConfidence={(p * 0.99f).ToString("R", System.Globalization.CultureInfo.InvariantCulture)}");
        Assert.That(kept.GetProperty("label").GetString(), Is.EqualTo(plain.GetProperty("label").GetString()));

        using var form = new MultipartFormDataContent { { new ByteArrayContent(image), "image", "a.jpg" } };
        using var batch = await _host.Client.PostAsync($"predict/batch?minConfidence={above.ToString("R", System.Globalization.CultureInfo.InvariantCulture)}", form);
        var results = JsonDocument.Parse(await batch.Content.ReadAsStringAsync()).RootElement.GetProperty("results");
        Assert.That(results[0].GetProperty("prediction").GetProperty("abstention").GetString(), Is.EqualTo("LowProbability"), "the batch applies it too");
    }

    [TestCase("1.5")]
    [TestCase("-0.1")]
    public async Task MinConfidence_OutsideZeroToOne_Is400(string value)
    {
        using var response = await _host.Client.PostAsync($"predict?minConfidence={value}", Raw(File.ReadAllBytes(ServiceModels.SampleImages(1)[0].Path)));
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest), text);
        Assert.That(text, Does.Contain("minConfidence"));
    }

    [Test]
    public async Task TheServiceDefault_AppliesWhenTheRequestSaysNothing()
    {
        var served = ServiceModels.CopyToFreshFolder(ServiceModels.First);
        await using var strict = await ServiceHost.StartAsync(served, "--min-confidence", "1");
        using var response = await strict.Client.PostAsync("predict", Raw(LeastSureSample()));
        var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.That(json.GetProperty("isConfident").GetBoolean(), Is.False, json.ToString());
        Assert.That(json.GetProperty("minConfidence").GetSingle(), Is.EqualTo(1f));
    }
}
