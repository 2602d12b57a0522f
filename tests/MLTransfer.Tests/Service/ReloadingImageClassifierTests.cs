using Microsoft.Extensions.DependencyInjection;
using MLTransfer.Inference;
using MLTransfer.Inference.Hosting;
using MLTransfer.Tests.Fixtures;
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

    private static ReloadingImageClassifier Unwatched(string served) => new(new ImageClassifierOptions { ModelPath = served, ReloadOnChange = false });

    [Test]
    public void Reload_ModelThatLoadsButFailsEveryPrediction_IsNotSwappedIn_AndTheReasonIsKept()
    {
        var served = ServiceModels.CopyToFreshFolder(ServiceModels.First);
        using var classifier = Unwatched(served);
        var version = classifier.Model.Version;
        var image = File.ReadAllBytes(ServiceModels.SampleImages(1)[0].Path);

        // Two class names for four scores: ML.NET loads it, and every prediction would index past the names.
        BrokenModelZips.Write(ServiceModels.Second, BrokenZip.TwoClassNames, served);
        Assert.That(classifier.Reload(), Is.False);
        Assert.That(classifier.Model.Version, Is.EqualTo(version), "the old model keeps serving");
        Assert.That(classifier.LastReloadError, Does.Contain("names 2").Or.Contain("4 scores for 2 class names"));
        Assert.That(classifier.LastReloadError, Does.Contain(served));
        Assert.That(classifier.FailedReloads, Is.EqualTo(1));
        Assert.That(classifier.Predict(image).Prediction.Probabilities, Has.Count.EqualTo(4));

        File.Copy(ServiceModels.Second, served, overwrite: true);
        Assert.That(classifier.Reload(), Is.True);
        Assert.That(classifier.LastReloadError, Is.Null);
    }

    // Before the loader validated metadata these threw NullReferenceException and ArgumentOutOfRangeException
    // out of Reload(); whatever the loader throws, a reload must not.
    [TestCase(BrokenZip.BackboneNull)]
    [TestCase(BrokenZip.InputSizeZero)]
    [TestCase(BrokenZip.NoClassNames)]
    [TestCase(BrokenZip.ForeignChain)]
    public void Reload_WhateverTheLoaderThrows_KeepsServing(BrokenZip kind)
    {
        var served = ServiceModels.CopyToFreshFolder(ServiceModels.First);
        using var classifier = Unwatched(served);
        var version = classifier.Model.Version;
        BrokenModelZips.Write(ServiceModels.Second, kind, served);
        bool swapped = true;
        Assert.DoesNotThrow(() => swapped = classifier.Reload(), "a reload never throws");
        Assert.That(swapped, Is.False);
        Assert.That(classifier.Model.Version, Is.EqualTo(version));
        Assert.That(classifier.LastReloadError, Is.Not.Null.And.Not.Empty);
        TestContext.Out.WriteLine($"{kind}: {classifier.LastReloadError}");
        Assert.That(classifier.Predict(File.ReadAllBytes(ServiceModels.SampleImages(1)[0].Path)).Model.Version, Is.EqualTo(version));
    }

    [Test]
    public void Reload_FileRestoredToTheServedModel_ClearsTheError()
    {
        var served = ServiceModels.CopyToFreshFolder(ServiceModels.First);
        using var classifier = Unwatched(served);
        File.WriteAllBytes(served, File.ReadAllBytes(ServiceModels.Second)[..10_000]);
        Assert.That(classifier.Reload(), Is.False);
        Assert.That(classifier.LastReloadError, Is.Not.Null);
        File.Copy(ServiceModels.First, served, overwrite: true);
        Assert.That(classifier.Reload(), Is.False, "nothing to swap: it is the served model");
        Assert.That(classifier.LastReloadError, Is.Null, "and nothing is wrong any more");
    }

    [Test]
    public void Reload_AThrowingModelChangedHandler_DoesNotUndoTheSwap()
    {
        var served = ServiceModels.CopyToFreshFolder(ServiceModels.First);
        using var classifier = Unwatched(served);
        classifier.ModelChanged += _ => throw new InvalidOperationException("subscriber bug");
        File.Copy(ServiceModels.Second, served, overwrite: true);
        Assert.That(classifier.Reload(), Is.True);
        Assert.That(classifier.Model.Metadata.Seed, Is.EqualTo(2));
        Assert.That(classifier.LastReloadError, Is.Null);
    }

    [TestCase(BrokenZip.TwoClassNames)]
    [TestCase(BrokenZip.BackboneNull)]
    [TestCase(BrokenZip.WeightsAltered)]
    public void Construction_WithAModelThatCannotServe_ThrowsAUserErrorNamingTheFile(BrokenZip kind)
    {
        var served = ServiceModels.CopyToFreshFolder(ServiceModels.First);
        BrokenModelZips.Write(ServiceModels.First, kind, served);
        var e = Assert.Throws<MLTransferException>(() => Unwatched(served));
        Assert.That(e!.Message, Does.Contain(served));
    }

    [Test]
    public void Probe_RefusesScoresThatAreNotOneProbabilityPerClass()
    {
        Assert.That(ModelProbe.ScoreProblem([0.25f, 0.75f], 2), Is.Null);
        Assert.That(ModelProbe.ScoreProblem([0.25f, 0.25f, 0.5f], 2), Does.Contain("3 scores for 2 class names"));
        Assert.That(ModelProbe.ScoreProblem([float.NaN, 1f], 2), Does.Contain("NaN"));
        Assert.That(ModelProbe.ScoreProblem([-0.5f, 1.5f], 2), Does.Contain("-0.5"));
        Assert.That(ModelProbe.ScoreProblem([0.2f, 0.2f], 2), Does.Contain("sum to 0.4"));
    }

    [Test]
    public void MissingModel_FailsAtConstruction_WithAUsefulMessage()
    {
        var e = Assert.Throws<MLTransferException>(() => new ReloadingImageClassifier(new ImageClassifierOptions { ModelPath = "/nonexistent/model.zip" }));
        Assert.That(e!.Message, Does.Contain("Model file not found").And.Contain("/nonexistent/model.zip"));
        Assert.Throws<MLTransferException>(() => new ReloadingImageClassifier(new ImageClassifierOptions()));
    }
}
