using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MLTransfer.Inference;
using MLTransfer.Inference.Hosting;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Tests.Service;
using MLTransfer.Training;
using NUnit.Framework;

namespace MLTransfer.Tests.Inference;

/// <summary>
/// The API an app builds on: <see cref="IImageClassifier"/> from <c>AddImageClassifier</c> bound to configuration
/// (no extra using: the extension lives in DI's namespace), named models as keyed services, options validated
/// when the host starts, batch prediction that answers like single calls and survives a bad image, and
/// training progress through an <see cref="ILogger"/>.
/// </summary>
[TestFixture, NonParallelizable]
public class AppApiTests
{
    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    [Test]
    public void AddImageClassifier_FromConfiguration_GivesAnIImageClassifierThatPredictsLikeTheLibrary()
    {
        var config = Config(("Classifier:ModelPath", ServiceModels.First), ("Classifier:ReloadOnChange", "false"), ("Classifier:ReloadDebounce", "00:00:00.250"));
        var services = new ServiceCollection().AddImageClassifier(config.GetSection("Classifier"));
        using var provider = services.BuildServiceProvider();
        var classifier = provider.GetRequiredService<IImageClassifier>();
        Assert.That(classifier, Is.SameAs(provider.GetRequiredService<ReloadingImageClassifier>()), "one model behind both");
        Assert.That(provider.GetRequiredService<IOptions<ImageClassifierOptions>>().Value.ReloadDebounce, Is.EqualTo(TimeSpan.FromMilliseconds(250)));

        var image = ServiceModels.SampleImages(1)[0].Path;
        using var direct = ImageClassifier.Load(ServiceModels.First);
        var expected = direct.Predict(image);
        var viaBytes = classifier.Predict(File.ReadAllBytes(image));
        var viaPath = classifier.Predict(image);
        Assert.That(viaBytes.Label, Is.EqualTo(expected.Label));
        Assert.That(viaBytes.Probability, Is.EqualTo(expected.Probability).Within(1e-6));
        Assert.That(viaPath.Probability, Is.EqualTo(expected.Probability).Within(1e-6));
        Assert.That(classifier.ClassNames, Is.EqualTo(direct.ClassNames));
    }

    [Test]
    public void NamedModels_AreKeyedServices_EachWithItsOwnModel()
    {
        var services = new ServiceCollection()
            .AddImageClassifier("first", o => (o.ModelPath, o.ReloadOnChange) = (ServiceModels.First, false))
            .AddImageClassifier("second", Config(("ModelPath", ServiceModels.Second), ("ReloadOnChange", "false")));
        using var provider = services.BuildServiceProvider();
        var first = provider.GetRequiredKeyedService<IImageClassifier>("first");
        var second = provider.GetRequiredKeyedService<IImageClassifier>("second");
        Assert.That(first, Is.Not.SameAs(second));
        Assert.That(first.Metadata.CreatedUtc, Is.Not.EqualTo(second.Metadata.CreatedUtc), "two different model files");
        using var direct = ImageClassifier.Load(ServiceModels.Second);
        Assert.That(second.Metadata.CreatedUtc, Is.EqualTo(direct.Metadata.CreatedUtc));
        Assert.That(provider.GetService<IImageClassifier>(), Is.Null, "no unnamed model was registered");

        // Each named model counts on a meter of its own, tagged with its name.
        var seen = new List<string?>();
        using var listener = new System.Diagnostics.Metrics.MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == ReloadingImageClassifier.MeterName && instrument.Name == "mltransfer.predictions")
                    l.EnableMeasurementEvents(instrument);
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, _, _, _) =>
            seen.Add(instrument.Meter.Tags?.FirstOrDefault(t => t.Key == "mltransfer.model").Value as string));
        listener.Start();
        var image = File.ReadAllBytes(ServiceModels.SampleImages(1)[0].Path);
        provider.GetRequiredKeyedService<ReloadingImageClassifier>("first").Predict(image);
        provider.GetRequiredKeyedService<ReloadingImageClassifier>("second").Predict(image);
        Assert.That(seen, Is.EqualTo(new[] { "first", "second" }));
    }

    [Test]
    public async Task AMissingModelFile_StopsTheHostsStart_NamingTheSettingAndThePath()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddImageClassifier(o => o.ModelPath = "/nonexistent/flowers.zip");
        builder.Services.AddImageClassifier("birds", o => o.ModelPath = "");
        using var host = builder.Build();
        Exception? e = null;
        try
        {
            await host.StartAsync();
        }
        catch (Exception caught)
        {
            e = caught;
        }
        Assert.That(e, Is.Not.Null, "the host must not start");
        var failures = (e as AggregateException)?.InnerExceptions.OfType<OptionsValidationException>().SelectMany(v => v.Failures)
            ?? (e as OptionsValidationException)?.Failures ?? [e!.Message];
        var message = string.Join("\n", failures);
        Assert.That(message, Does.Contain("Model file not found at ModelPath '/nonexistent/flowers.zip'"));
        Assert.That(message, Does.Contain("ImageClassifierOptions 'birds': ModelPath is not set"), "the named model's failure too");

    }

    [Test]
    public void PredictBatch_AnswersLikeSingleCalls_AndReportsABadImageWithoutFailingTheOthers()
    {
        using var classifier = ImageClassifier.Load(ServiceModels.First);
        var images = ServiceModels.SampleImages(11).Select(s => File.ReadAllBytes(s.Path)).ToList();
        // More than one ONNX Runtime batch, with a truncated file in the middle.
        images.Insert(5, images[0][..300]);
        var results = classifier.PredictBatch(images, topK: 2);
        Assert.That(results, Has.Count.EqualTo(12));
        Assert.That(results[5].Succeeded, Is.False);
        Assert.That(results[5].Error, Is.Not.Empty);
        for (var i = 0; i < images.Count; i++)
        {
            if (i == 5)
                continue;
            var single = classifier.Predict(images[i], topK: 2);
            var batched = results[i].Prediction!;
            Assert.That(batched.Label, Is.EqualTo(single.Label), $"image {i}");
            Assert.That(batched.TopK, Has.Count.EqualTo(2));
            Assert.That(batched.Probabilities.Select(p => p.Probability), Is.EqualTo(single.Probabilities.Select(p => p.Probability)).Within(1e-5f), $"image {i}");
            Assert.That(batched.OutOfDomainScore, Is.EqualTo(single.OutOfDomainScore).Within(1e-5f), $"image {i}");
        }
        Assert.That(() => classifier.PredictBatch(images, minConfidence: 2), Throws.TypeOf<ArgumentOutOfRangeException>());
    }

    private sealed class ListLogger : ILogger
    {
        public List<(LogLevel Level, string Message)> Entries { get; } = [];
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;
        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Add((logLevel, formatter(state, exception)));
    }

    [Test]
    public void Training_LogsToAnILogger_WarningsAsWarnings()
    {
        using var data = new TempDataset();
        foreach (var folder in Directory.GetDirectories(Path.Combine(TestPaths.RepoRoot, "data-samples")))
            foreach (var file in Directory.GetFiles(folder, "*.jpg").Order(StringComparer.Ordinal).Take(12))
                data.AddFile(Path.Combine(Path.GetFileName(folder), Path.GetFileName(file)), File.ReadAllBytes(file));
        // A loose picture outside any class folder: the loader warns about it.
        data.AddFile("stray.jpg", File.ReadAllBytes(Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, "data-samples", "birds"), "*.jpg").Order(StringComparer.Ordinal).First()));
        var logger = new ListLogger();
        var options = new TransferLearningOptions
        {
            Backbone = new() { Name = "mobilenet-v1-0.75-192", Dirs = [Path.Combine(TestPaths.SharedDir, "models")], AllowDownload = false },
            Cache = new() { Enabled = false },
        }.WithLogger(logger);
        using var model = TransferLearner.Train(data.Root, options);
        Assert.That(logger.Entries.Where(e => e.Level == LogLevel.Information).Select(e => e.Message), Has.Some.StartsWith("head: "));
        Assert.That(logger.Entries.Where(e => e.Level == LogLevel.Warning).Select(e => e.Message), Has.Some.Contains("were ignored"), "warnings as warnings, without the prefix");
        TestContext.Out.WriteLine(string.Join("\n", logger.Entries.Select(e => $"{e.Level}: {e.Message}")));
    }
}
