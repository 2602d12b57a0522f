using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLTransfer.Images;
using MLTransfer.Inference;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Tests.Service;
using NUnit.Framework;

namespace MLTransfer.Tests.Inference;

/// <summary>
/// <see cref="ImageClassifier"/> predicts with ONNX Runtime on the fused graph, not with the zip's ML.NET chain;
/// the two must agree within 1e-5 on real photos, alone, in batches and under concurrent calls.
/// </summary>
[TestFixture, NonParallelizable]
public class FusedPredictionTests
{
    private sealed class Input
    {
        [ImageType(1, 1)]
        public MLImage? Image { get; set; }
    }

    private sealed class Output
    {
        public float[] Score { get; set; } = [];
    }

    private static IReadOnlyList<string> Flowers(int count) =>
        Directory.GetDirectories(TestPaths.SharedDataset("flowers")).Order(StringComparer.Ordinal)
            .SelectMany(d => Directory.GetFiles(d, "*.jpg").Order(StringComparer.Ordinal).Take(count / 5))
            .Take(count).ToList();

    /// <summary>What the zip's own ML.NET chain says for each decoded image.</summary>
    private static float[][] MLNetScores(string zip, IReadOnlyList<DecodedImage> images, int width, int height)
    {
        var ml = new MLContext();
        var model = ml.Model.Load(zip, out _);
        try
        {
            var schema = SchemaDefinition.Create(typeof(Input));
            new ImageTypeAttribute(height, width).Register();
            schema[nameof(Input.Image)].ColumnType = new ImageDataViewType(height, width);
            using var engine = ml.Model.CreatePredictionEngine<Input, Output>(model, inputSchemaDefinition: schema);
            return images.Select(i =>
            {
                using var image = i.ToMLImage();
                return engine.Predict(new Input { Image = image }).Score.ToArray();
            }).ToArray();
        }
        finally
        {
            (model as IDisposable)?.Dispose();
        }
    }

    [Test]
    public void FusedGraph_MatchesTheMLNetChain_On20Flowers_AloneBatchedAndConcurrent()
    {
        var zip = ServiceModels.First;
        using var classifier = ImageClassifier.Load(zip);
        var d = classifier.Metadata.Backbone;
        var files = Flowers(20);
        Assert.That(files, Has.Count.EqualTo(20));
        var images = files.Select(f => ImageDecoder.DecodeFile(f, d.InputWidth, d.InputHeight, d.ResizeMode)).ToList();
        var expected = MLNetScores(zip, images, d.InputWidth, d.InputHeight);

        var alone = images.Select(classifier.Score).ToArray();
        var batched = classifier.ScoreBatch(images);
        var concurrent = new float[images.Count][];
        Parallel.For(0, images.Count * 4, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i => concurrent[i % images.Count] = classifier.Score(images[i % images.Count]));
        var viaPath = files.Select(f => classifier.Predict(f).Probabilities.Select(p => p.Probability).ToArray()).ToArray();

        for (var i = 0; i < images.Count; i++)
        {
            Assert.That(expected[i], Has.Length.EqualTo(classifier.ClassNames.Count));
            Assert.That(alone[i], Is.EqualTo(expected[i]).Within(1e-5f), $"alone, {files[i]}");
            Assert.That(batched[i], Is.EqualTo(expected[i]).Within(1e-5f), $"batched, {files[i]}");
            Assert.That(concurrent[i], Is.EqualTo(expected[i]).Within(1e-5f), $"concurrent, {files[i]}");
            Assert.That(viaPath[i], Is.EqualTo(expected[i]).Within(1e-5f), $"Predict(path), {files[i]}");
        }
    }

    [Test, CancelAfter(60_000)]
    public void DisposeDuringConcurrentCalls_EachCallAnswersOrSaysDisposed_NothingCrashes()
    {
        var classifier = ImageClassifier.Load(ServiceModels.First);
        var d = classifier.Metadata.Backbone;
        var image = ImageDecoder.DecodeFile(Flowers(5)[0], d.InputWidth, d.InputHeight, d.ResizeMode);
        var answered = 0;
        var refused = 0;
        var others = new System.Collections.Concurrent.ConcurrentBag<Exception>();
        using var started = new CountdownEvent(4);
        var threads = Enumerable.Range(0, 4).Select(_ => new Thread(() =>
        {
            started.Signal();
            for (var i = 0; i < 200; i++)
            {
                try
                {
                    classifier.Score(image);
                    Interlocked.Increment(ref answered);
                }
                catch (ObjectDisposedException)
                {
                    Interlocked.Increment(ref refused);
                }
                catch (Exception e)
                {
                    others.Add(e);
                }
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        started.Wait();
        Thread.Sleep(50);
        classifier.Dispose();
        threads.ForEach(t => t.Join());
        Assert.That(others, Is.Empty, others.FirstOrDefault()?.ToString());
        Assert.That(answered + refused, Is.EqualTo(800));
        Assert.That(refused, Is.GreaterThan(0), "calls after Dispose are refused");
    }
}
