using MLTransfer.Inference;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Training;
using NUnit.Framework;

namespace MLTransfer.Tests.Training;

/// <summary>
/// The product's main promise on real photos: MobileNetV2 features of the shared flowers set (5 classes ×
/// 120) with the default head reach the accuracy floor on a stratified test split they never saw.
/// </summary>
[TestFixture, NonParallelizable]
public class FlowersIntegrationTests
{
    private string _workspace = "";
    private string _output = "";
    private TrainedModel _model = null!;

    private TransferLearningOptions Options(int seed) => new()
    {
        Backbone = new() { Name = "mobilenet-v2", Dirs = [TestPaths.SharedDir + "/models"], AllowDownload = false },
        Cache = new() { WorkspacePath = _workspace },
        Seed = seed,
    };

    [OneTimeSetUp]
    public void TrainOnce()
    {
        _workspace = Directory.CreateTempSubdirectory("mlt-flowers-ws-").FullName;
        _output = Directory.CreateTempSubdirectory("mlt-flowers-out-").FullName;
        _model = TransferLearner.Train(TestPaths.SharedDataset("flowers"), Options(1));
    }

    [OneTimeTearDown]
    public void Cleanup()
    {
        _model.Dispose();
        Directory.Delete(_workspace, true);
        Directory.Delete(_output, true);
    }

    [Test]
    public void SplitIsStratified70_15_15()
    {
        Assert.That(_model.Report.Counts, Has.Count.EqualTo(5));
        foreach (var c in _model.Report.Counts)
            Assert.That((c.Train, c.Validation, c.Test), Is.EqualTo((84, 18, 18)), c.Label);
        Assert.That(_model.Report.Skipped, Is.Empty);
    }

    [Test]
    public void TestAccuracy_MeetsTheFloor_AndSoDoesTheMeanOverThreeSeeds()
    {
        var accuracies = new List<double> { _model.Report.Test!.Accuracy };
        foreach (var seed in new[] { 2, 3 })
        {
            using var other = TransferLearner.Train(TestPaths.SharedDataset("flowers"), Options(seed));
            Assert.That(other.Report.ImagesExtracted, Is.Zero, "a retrain with another seed reads every feature from the cache");
            accuracies.Add(other.Report.Test!.Accuracy);
        }
        TestContext.Out.WriteLine($"flowers test accuracy per seed: {string.Join(", ", accuracies.Select(a => a.ToString("F4")))}; mean {accuracies.Average():F4}");
        Assert.That(accuracies[0], Is.GreaterThanOrEqualTo(0.80));
        Assert.That(accuracies.Average(), Is.GreaterThanOrEqualTo(0.80));
    }

    [Test]
    public void Metadata_DescribesTheModel()
    {
        var m = _model.Metadata;
        Assert.That(m.ClassNames, Is.EqualTo(new[] { "daisy", "dandelion", "roses", "sunflowers", "tulips" }));
        Assert.That(m.BackboneSha256, Is.EqualTo("e9067399bf7adc64295ccf94083e12d44168dfc8c56aad2321029a8b47fbdf9b"));
        Assert.That(m.FeatureSize, Is.EqualTo(1280));
        Assert.That(m.Seed, Is.EqualTo(1));
        Assert.That(m.Metrics["test"]["accuracy"], Is.EqualTo(_model.Report.Test!.Accuracy));
        Assert.That(m.DatasetCounts["test"].Values.Sum(), Is.EqualTo(90));
    }

    [Test]
    public void SavedModel_PredictsLikeTrainingTime_InThisProcessAndInANewOne()
    {
        var zip = Path.Combine(_output, "flowers.zip");
        _model.Save(zip);
        var images = Directory.GetFiles(TestPaths.SharedDataset("flowers"), "*.jpg", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Where((_, i) => i % 30 == 0).Take(20).ToArray();
        Assert.That(images, Has.Length.EqualTo(20));

        // Training-time scores: cached features through the fitted head.
        using var session = new MLTransfer.Features.BackboneSession(
            MLTransfer.Backbones.BackboneGraph.Prepare(TestPaths.SharedModel("mobilenet_v2_1.0_224.onnx"), _model.Metadata.Backbone));
        var features = MLTransfer.Features.FeatureExtractor.Extract(images, session);
        using var classifier = ImageClassifier.Load(zip);
        var inProcess = images.Select(i => classifier.Predict(i)).ToArray();
        // The head's own probabilities at the temperature the model was calibrated to.
        var headScores = TrainedChains.CalibratedHeadScores(_model, images.Select(i => features.ByName[i]).ToList());
        for (var i = 0; i < images.Length; i++)
        {
            var probabilities = inProcess[i].Probabilities.Select(p => p.Probability).ToArray();
            Assert.That(probabilities, Is.EqualTo(headScores[i]).Within(1e-4f), $"{images[i]}: saved model vs training-time head");
        }

        // A fresh process: the CLI loads the zip and predicts the same labels and scores.
        var cli = CliRunner.Run(["predict", "--model", zip, "--json", "--top", "5", .. images]);
        Assert.That(cli.ExitCode, Is.EqualTo(0), cli.StdErr);
        using var doc = System.Text.Json.JsonDocument.Parse(cli.StdOut);
        var predictions = doc.RootElement.GetProperty("predictions").EnumerateArray().ToArray();
        Assert.That(predictions, Has.Length.EqualTo(20));
        for (var i = 0; i < images.Length; i++)
        {
            Assert.That(predictions[i].GetProperty("mostProbable").GetString(), Is.EqualTo(inProcess[i].Label));
            Assert.That(predictions[i].GetProperty("label").GetString(), Is.EqualTo(inProcess[i].IsConfident ? inProcess[i].Label : null), "no label when the model abstains");
            Assert.That(predictions[i].GetProperty("isConfident").GetBoolean(), Is.EqualTo(inProcess[i].IsConfident));
            var top = predictions[i].GetProperty("topK").EnumerateArray().ToDictionary(t => t.GetProperty("label").GetString()!, t => t.GetProperty("probability").GetSingle());
            foreach (var p in inProcess[i].Probabilities)
                Assert.That(top[p.Label], Is.EqualTo(p.Probability).Within(1e-5f), $"{images[i]} {p.Label}");
        }
    }
}
