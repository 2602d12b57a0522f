using MLTransfer.Backbones.Catalog;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Training;
using NUnit.Framework;

namespace MLTransfer.Tests.Backbones.Real;

/// <summary>The Keras ResNet-50 of the offline folder, through the catalog record <c>resnet50</c>.</summary>
[TestFixture, NonParallelizable]
public class ResNet50Tests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("mlt-resnet50-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, true);

    [Test]
    public void Resnet50_TrainsOnAFlowersSubset_AndTheReloadedZipScoresLikeTheModelInMemory()
    {
        // ResNet-50 runs at about 30 images/s on the 2-core VM: 10 images per class keep this test short.
        using var data = RealBackboneRuns.FlowersSubset(10);
        var log = new List<string>();
        using var model = TransferLearner.Train(data.Root, new TransferLearningOptions
        {
            Backbone = new() { Name = "resnet50", Dirs = [Path.Combine(TestPaths.SharedDir, "models")], AllowDownload = false },
            Cache = new() { WorkspacePath = Path.Combine(_dir, "ws") },
            Seed = 1,
            Log = log.Add,
        });

        Assert.That(model.Metadata.Backbone.Name, Is.EqualTo("resnet50"));
        Assert.That(model.Metadata.BackboneSha256, Is.EqualTo(BuiltInBackbones.ResNet50.Sha256));
        Assert.That(model.Metadata.FeatureSize, Is.EqualTo(2048));
        Assert.That(model.Metadata.Backbone.FeatureTensor, Is.EqualTo("features"));
        Assert.That(log, Has.Some.Contains("resnet50: found in offline folder"));
        var images = Directory.GetFiles(data.Root, "*.jpg", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Where((_, i) => i % 5 == 0).ToList();
        RealBackboneRuns.SaveReloadAndCompare(model, Path.Combine(_dir, "resnet50.zip"), images);
    }
}
