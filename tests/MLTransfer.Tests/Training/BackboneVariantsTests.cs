using Google.Protobuf;
using MLTransfer.Inference;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Training;
using NUnit.Framework;

namespace MLTransfer.Tests.Training;

/// <summary>Backbone descriptions are honoured end to end: input size, feature width, custom graphs.</summary>
[TestFixture, NonParallelizable]
public class BackboneVariantsTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("mlt-variants-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, true);

    private static string Samples => Path.Combine(TestPaths.RepoRoot, "data-samples");

    [Test]
    public void MobileNetV1_192_TrainsSavesAndPredictsWith768Features()
    {
        using var model = TransferLearner.Train(Samples, new TransferLearningOptions
        {
            Backbone = new() { Name = "mobilenet-v1-0.75-192", Dirs = [Path.Combine(TestPaths.SharedDir, "models")], AllowDownload = false },
            Cache = new() { WorkspacePath = Path.Combine(_dir, "ws") },
        });
        Assert.That(model.Metadata.Backbone.InputWidth, Is.EqualTo(192));
        Assert.That(model.Metadata.FeatureSize, Is.EqualTo(768));
        Assert.That(model.Report.Test!.Accuracy, Is.GreaterThan(0.5), "4 balanced classes: well above chance (0.25)");
        var zip = Path.Combine(_dir, "v1.zip");
        model.Save(zip);
        using var classifier = ImageClassifier.Load(zip);
        Assert.That(classifier.Metadata.Backbone.InputHeight, Is.EqualTo(192));
        var bird = Directory.GetFiles(Path.Combine(Samples, "birds")).Order(StringComparer.Ordinal).First();
        var p = classifier.Predict(bird);
        Assert.That(p.Probabilities.Sum(c => c.Probability), Is.EqualTo(1f).Within(1e-4f));
        Assert.That(classifier.ClassNames, Is.EqualTo(new[] { "birds", "bugs", "fruit", "music" }));
    }

    [Test]
    public void ResNetStyleGraph_IsDetectedPreparedAndTrainedThrough()
    {
        // A residual graph with random weights: accuracy is not the point, the plumbing is.
        var file = Path.Combine(_dir, "tiny_resnet.onnx");
        File.WriteAllBytes(file, OnnxFixtures.TinyResNet(TinyHead.Conv1x1, width: 8, size: 32).ToByteArray());
        using var model = TransferLearner.Train(Samples, new TransferLearningOptions
        {
            Backbone = new() { Name = file, Adjust = d => d with { InputWidth = 32, InputHeight = 32 }, AllowDownload = false },
            Cache = new() { WorkspacePath = Path.Combine(_dir, "ws") },
        });
        Assert.That(model.Metadata.FeatureSize, Is.EqualTo(8));
        Assert.That(model.Metadata.Backbone.FeatureTensor, Is.EqualTo("pooled"));
        var zip = Path.Combine(_dir, "tiny.zip");
        model.Save(zip);
        using var classifier = ImageClassifier.Load(zip);
        Assert.That(classifier.Predict(Directory.GetFiles(Path.Combine(Samples, "fruit"))[0]).Probabilities, Has.Count.EqualTo(4));
    }

    [Test]
    public void MismatchedBackboneDescription_IsRefusedBeforeAnyWork()
    {
        var e = Assert.Throws<MLTransferException>(() => TransferLearner.Train(Samples, new TransferLearningOptions
        {
            Backbone = new() { Name = TestPaths.SharedModel("mobilenet_v1_0.75_192.onnx"), Adjust = d => d with { InputWidth = 224, InputHeight = 224 }, AllowDownload = false },
            Cache = new() { WorkspacePath = Path.Combine(_dir, "ws") },
        }));
        Assert.That(e!.Message, Does.Contain("192").And.Contain("224"));
        Assert.That(Directory.Exists(Path.Combine(_dir, "ws", "features")), Is.False, "nothing was extracted");
    }
}
