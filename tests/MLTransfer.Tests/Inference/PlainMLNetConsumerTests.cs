using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLTransfer.Inference;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Training;
using NUnit.Framework;

namespace MLTransfer.Tests.Inference;

/// <summary>
/// The saved zip is a standard ML.NET model: an app with only the ML.NET packages loads it with
/// <c>mlContext.Model.Load</c> and predicts what <see cref="ImageClassifier"/> predicts.
/// </summary>
[TestFixture, NonParallelizable]
public class PlainMLNetConsumerTests
{
    // Deliberately the consumer's own types, nothing from MLTransfer.
    private sealed class ConsumerInput
    {
        [ImageType(224, 224)]
        public MLImage? Image { get; set; }
    }

    private sealed class ConsumerOutput
    {
        public float[] Score { get; set; } = [];
        public string PredictedLabel { get; set; } = "";
    }

    [Test]
    public void StockMLNet_LoadsTheZip_AndAgreesWithImageClassifier()
    {
        var dir = Directory.CreateTempSubdirectory("mlt-plain-").FullName;
        try
        {
            var zip = Path.Combine(dir, "samples.zip");
            using (var model = TransferLearner.Train(Path.Combine(TestPaths.RepoRoot, "data-samples"), new TransferLearningOptions
            {
                Backbone = new() { Name = "mobilenet-v2", Dirs = [Path.Combine(TestPaths.SharedDir, "models")], AllowDownload = false },
                Cache = new() { WorkspacePath = Path.Combine(dir, "ws") },
            }))
                model.Save(zip);

            var ml = new MLContext();
            var loaded = ml.Model.Load(zip, out _);
            using var engine = ml.Model.CreatePredictionEngine<ConsumerInput, ConsumerOutput>(loaded);
            using var classifier = ImageClassifier.Load(zip);
            // The shared test images are 224×224 RGB PNGs, so ML.NET's own loading sees the same pixels as ours.
            foreach (var file in Directory.GetFiles(Path.Combine(TestPaths.SharedDir, "models", "testimages"), "*.png"))
            {
                using var image = MLImage.CreateFromFile(file);
                var plain = engine.Predict(new ConsumerInput { Image = image });
                var ours = classifier.Predict(file);
                Assert.That(plain.PredictedLabel, Is.EqualTo(ours.Label), file);
                Assert.That(plain.Score, Is.EqualTo(ours.Probabilities.Select(p => p.Probability).ToArray()).Within(1e-5f), file);
            }
            (loaded as IDisposable)?.Dispose();
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
