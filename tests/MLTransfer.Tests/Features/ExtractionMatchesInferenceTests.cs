using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLTransfer.Backbones;
using MLTransfer.Export;
using MLTransfer.Features;
using MLTransfer.Images;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Training;
using NUnit.Framework;

namespace MLTransfer.Tests.Features;

/// <summary>
/// The features a head is trained on (batched ONNX Runtime, <see cref="FeatureExtractor"/>) are the features
/// the saved model computes at prediction time (ML.NET chain, one image per call), so the head sees at
/// prediction exactly what it learned from.
/// </summary>
[TestFixture, NonParallelizable]
public class ExtractionMatchesInferenceTests
{
    private sealed class Row
    {
        [ImageType(224, 224)]
        public MLImage? Image { get; set; }
    }

    private sealed class FeatureRow
    {
        // The backbone's output column of the saved chain; "Features" itself is L2-normalised by the head.
        [ColumnName(PreparedBackbone.OutputName)]
        public float[] Features { get; set; } = [];
    }

    [Test]
    public void TrainingFeatures_EqualSavedModelFeatures()
    {
        using var dataset = new TempDataset();
        var classes = new[] { "daisy", "dandelion", "roses", "sunflowers", "tulips" };
        foreach (var c in classes)
            foreach (var file in Directory.GetFiles(TestPaths.SharedDataset(Path.Combine("flowers", c)), "*.jpg").Order(StringComparer.Ordinal).Take(8))
                dataset.CopyShared(Path.Combine("flowers", c, Path.GetFileName(file)), Path.Combine(c, Path.GetFileName(file)));
        // Beside the data, never inside it (saving there is refused).
        var zip = dataset.Root + ".model.zip";
        using (var trained = TransferLearner.Train(dataset.Root, new TransferLearningOptions
        {
            Backbone = new() { Name = TestPaths.SharedModel("mobilenet_v2_1.0_224.onnx"), AllowDownload = false },
            Cache = new() { Enabled = false },
        }))
            trained.Save(zip);

        var ml = new MLContext();
        var (model, metadata) = ModelPackage.Load(ml, zip);
        var d = metadata.Backbone;
        Assert.That((d.InputWidth, d.InputHeight), Is.EqualTo((224, 224)), "the row type below is declared for 224×224");
        var images = classes.Select(c => Directory.GetFiles(dataset.PathOf(c)).Order(StringComparer.Ordinal).First()).ToList();

        // Training path: batched session over the prepared graph, as TransferLearner runs it.
        var prepared = BackboneGraph.Prepare(TestPaths.SharedModel("mobilenet_v2_1.0_224.onnx"), d);
        using var session = new BackboneSession(prepared);
        var extracted = FeatureExtractor.Extract(images, session, options: new FeatureExtractionOptions { BatchSize = 4 });

        // Prediction path: the saved ML.NET chain on the decoder's MLImage, one row per image.
        var rows = images.Select(p => new Row { Image = ImageDecoder.DecodeFile(p, d.InputWidth, d.InputHeight, d.ResizeMode).ToMLImage() }).ToList();
        var scored = model.Transform(ml.Data.LoadFromEnumerable(rows));
        var predicted = ml.Data.CreateEnumerable<FeatureRow>(scored, reuseRowObject: false).Select(r => r.Features).ToList();

        Assert.That(predicted, Has.Count.EqualTo(images.Count));
        var worst = 0f;
        for (var i = 0; i < images.Count; i++)
        {
            var train = extracted.ByName[images[i]];
            Assert.That(predicted[i], Has.Length.EqualTo(train.Length));
            var maxDiff = train.Zip(predicted[i], (a, b) => Math.Abs(a - b)).Max();
            Assert.That(maxDiff, Is.LessThanOrEqualTo(1e-4f), images[i]);
            worst = Math.Max(worst, maxDiff);
            Assert.That(train.Max(), Is.GreaterThan(0f), "features must not be all zero");
        }
        TestContext.Out.WriteLine($"max |training − saved model| over {images.Count} images: {worst:G3}");
        foreach (var r in rows)
            r.Image!.Dispose();
        (model as IDisposable)?.Dispose();
        File.Delete(zip);
    }
}
