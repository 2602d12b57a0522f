using Microsoft.Extensions.DependencyInjection;
using MLTransfer.Inference.Hosting;
using NUnit.Framework;

namespace MLTransfer.Tests.Service;

/// <summary>The library side: swaps under concurrent calls, and the DI registration's lifetime.</summary>
[TestFixture, NonParallelizable]
public class ReloadingImageClassifierTests
{
    [Test, CancelAfter(120_000)]
    public void RepeatedSwaps_WhileFourThreadsPredict_NoCallFails_AndEachAnswerNamesItsModel()
    {
        var served = ServiceModels.CopyToFreshFolder(ServiceModels.First);
        using var classifier = new ReloadingImageClassifier(new ImageClassifierOptions { ModelPath = served, ReloadOnChange = false });
        var images = ServiceModels.SampleImages(8).Select(s => File.ReadAllBytes(s.Path)).ToArray();
        var expected = new Dictionary<string, string>();
        using (var first = MLTransfer.Inference.ImageClassifier.Load(ServiceModels.First))
        using (var second = MLTransfer.Inference.ImageClassifier.Load(ServiceModels.Second))
        {
            expected[first.Metadata.CreatedUtc.ToString("O")] = first.Predict(images[0]).Probability.ToString("R");
            expected[second.Metadata.CreatedUtc.ToString("O")] = second.Predict(images[0]).Probability.ToString("R");
        }

        var errors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var mismatches = 0;
        var calls = 0;
        using var stop = new CancellationTokenSource();
        var workers = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var answer = classifier.Predict(images[0]);
                    // The probability must be the one that model gives: no mixing of old engine and new metadata.
                    if (expected[answer.Model.Metadata.CreatedUtc.ToString("O")] != answer.Prediction.Probability.ToString("R"))
                        Interlocked.Increment(ref mismatches);
                    Interlocked.Increment(ref calls);
                }
                catch (Exception e)
                {
                    errors.Enqueue(e);
                }
            }
        })).ToArray();

        for (var i = 0; i < 6; i++)
        {
            Thread.Sleep(150);
            File.Copy(i % 2 == 0 ? ServiceModels.Second : ServiceModels.First, served, overwrite: true);
            Assert.That(classifier.Reload(), Is.True, $"swap {i + 1}");
            Assert.That(classifier.Reload(), Is.False, "an unchanged file is not reloaded");
        }
        Thread.Sleep(150);
        stop.Cancel();
        Task.WaitAll(workers);
        TestContext.Out.WriteLine($"{calls} predictions across 6 swaps");

        Assert.That(errors, Is.Empty, errors.FirstOrDefault()?.ToString());
        Assert.That(mismatches, Is.Zero);
        Assert.That(classifier.Reloads, Is.EqualTo(6));
        Assert.That(calls, Is.GreaterThan(20));
    }

    [Test]
    public void AddImageClassifier_RegistersASingleton_DisposedWithTheContainer()
    {
        var served = ServiceModels.CopyToFreshFolder(ServiceModels.First);
        var services = new ServiceCollection().AddLogging().AddImageClassifier(o => { o.ModelPath = served; o.ReloadOnChange = false; });
        ReloadingImageClassifier classifier;
        using (var provider = services.BuildServiceProvider())
        {
            classifier = provider.GetRequiredService<ReloadingImageClassifier>();
            Assert.That(provider.GetRequiredService<ReloadingImageClassifier>(), Is.SameAs(classifier));
            Assert.That(classifier.Predict(File.ReadAllBytes(ServiceModels.SampleImages(1)[0].Path)).Prediction.Label, Is.Not.Empty);
        }
        Assert.Throws<ObjectDisposedException>(() => classifier.Predict([0xFF, 0xD8, 0xFF]));
    }

    [Test]
    public void MissingModel_FailsAtConstruction_WithAUsefulMessage()
    {
        var e = Assert.Throws<MLTransferException>(() => new ReloadingImageClassifier(new ImageClassifierOptions { ModelPath = "/nonexistent/model.zip" }));
        Assert.That(e!.Message, Does.Contain("Model file not found").And.Contain("/nonexistent/model.zip"));
        Assert.Throws<MLTransferException>(() => new ReloadingImageClassifier(new ImageClassifierOptions()));
    }
}
