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

    private static ReloadingImageClassifier Unwatched(string served) => new(new ImageClassifierOptions { ModelPath = served, ReloadOnChange = false });

    [Test]
    public void Reload_ModelThatLoadsButFailsEveryPrediction_IsNotSwappedIn_AndTheReasonIsKept()
    {
        var served = ServiceModels.CopyToFreshFolder(ServiceModels.First);
        using var classifier = Unwatched(served);
        var version = classifier.Model.Version;
        var image = File.ReadAllBytes(ServiceModels.SampleImages(1)[0].Path);

        // Three class names for four scores: loads fine, then every prediction indexes past the names.
        ModelZipEdits.WithMetadata(ServiceModels.Second, served, ModelZipEdits.DropLastClassName);
        Assert.That(classifier.Reload(), Is.False);
        Assert.That(classifier.Model.Version, Is.EqualTo(version), "the old model keeps serving");
        Assert.That(classifier.LastReloadError, Does.Contain("4 scores for 3 class names").And.Contain(served));
        Assert.That(classifier.FailedReloads, Is.EqualTo(1));
        Assert.That(classifier.Predict(image).Prediction.Probabilities, Has.Count.EqualTo(4));

        File.Copy(ServiceModels.Second, served, overwrite: true);
        Assert.That(classifier.Reload(), Is.True);
        Assert.That(classifier.LastReloadError, Is.Null);
    }

    [TestCase("backbone-null", TestName = "Reload_LoaderThrowsNullReference_KeepsServing")]
    [TestCase("input-size-0", TestName = "Reload_LoaderThrowsArgumentOutOfRange_KeepsServing")]
    [TestCase("no-class-names", TestName = "Reload_NoClassNames_KeepsServing")]
    public void Reload_WhateverTheLoaderThrows_KeepsServing(string kind)
    {
        var served = ServiceModels.CopyToFreshFolder(ServiceModels.First);
        using var classifier = Unwatched(served);
        var version = classifier.Model.Version;
        ModelZipEdits.WithMetadata(ServiceModels.Second, served, m =>
        {
            switch (kind)
            {
                case "backbone-null": m["backbone"] = null; break;
                case "input-size-0": m["backbone"]!["inputWidth"] = 0; break;
                default: m["classNames"] = new System.Text.Json.Nodes.JsonArray(); break;
            }
        });
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

    [Test]
    public void Construction_WithAModelThatFailsTheTestPrediction_ThrowsAUserError()
    {
        var served = ServiceModels.CopyToFreshFolder(ServiceModels.First);
        ModelZipEdits.WithMetadata(ServiceModels.First, served, ModelZipEdits.DropLastClassName);
        var e = Assert.Throws<MLTransferException>(() => Unwatched(served));
        Assert.That(e!.Message, Does.Contain("4 scores for 3 class names"));
        ModelZipEdits.WithMetadata(ServiceModels.First, served, m => m["backbone"] = null);
        e = Assert.Throws<MLTransferException>(() => Unwatched(served), "any loader failure is reported as a user error");
        Assert.That(e!.Message, Does.Contain("could not be loaded"));
    }

    [Test]
    public void MissingModel_FailsAtConstruction_WithAUsefulMessage()
    {
        var e = Assert.Throws<MLTransferException>(() => new ReloadingImageClassifier(new ImageClassifierOptions { ModelPath = "/nonexistent/model.zip" }));
        Assert.That(e!.Message, Does.Contain("Model file not found").And.Contain("/nonexistent/model.zip"));
        Assert.Throws<MLTransferException>(() => new ReloadingImageClassifier(new ImageClassifierOptions()));
    }
}
