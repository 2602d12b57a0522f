using MLTransfer.Cli.Benchmarks;
using MLTransfer.Heads;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Training;
using NUnit.Framework;

namespace MLTransfer.Tests.Features;

/// <summary>The bottleneck cache in whole training runs: a retrain skips the backbone, new images are the only ones extracted.</summary>
[TestFixture, NonParallelizable]
public class FeatureCacheReuseTests
{
    private TempDataset _data = null!;
    private string _workspace = "";

    [SetUp]
    public void SetUp()
    {
        _data = new TempDataset();
        _workspace = _data.PathOf("../" + Path.GetFileName(_data.Root) + "-ws");
        foreach (var c in new[] { "daisy", "roses", "tulips" })
            foreach (var file in Directory.GetFiles(TestPaths.SharedDataset(Path.Combine("flowers", c)), "*.jpg").Order(StringComparer.Ordinal).Take(10))
                _data.CopyShared(Path.Combine("flowers", c, Path.GetFileName(file)), Path.Combine(c, Path.GetFileName(file)));
    }

    [TearDown]
    public void TearDown()
    {
        _data.Dispose();
        if (Directory.Exists(_workspace))
            Directory.Delete(_workspace, recursive: true);
    }

    private TrainingReport Train(int seed = 42, HeadKind head = HeadKind.LbfgsMaximumEntropy)
    {
        using var model = TransferLearner.Train(_data.Root, new TransferLearningOptions
        {
            Backbone = new() { Name = TestPaths.SharedModel("mobilenet_v2_1.0_224.onnx"), AllowDownload = false },
            Cache = new() { WorkspacePath = _workspace },
            Seed = seed,
            Head = head,
        });
        return model.Report;
    }

    [Test]
    public void SecondRun_WithAnotherSeedAndHead_RunsNoImageThroughTheBackbone()
    {
        var first = Train();
        Assert.That(first.ImagesExtracted, Is.EqualTo(30));
        Assert.That(first.ImagesFromCache, Is.Zero);

        var second = Train(seed: 7, head: HeadKind.SdcaMaximumEntropy);
        Assert.That(second.ImagesExtracted, Is.Zero);
        Assert.That(second.ImagesFromCache, Is.EqualTo(30));
    }

    [Test]
    public void AddingImages_ExtractsOnlyTheNewOnes()
    {
        Assert.That(Train().ImagesExtracted, Is.EqualTo(30));

        // Augmented copies have new content hashes, like genuinely new photos.
        var added = SyntheticImages.Write([_data.Root], _data.PathOf("../" + Path.GetFileName(_data.Root) + "-new"), copies: 1, seed: 3, maxPerClass: 2);
        try
        {
            foreach (var file in added)
                File.Move(file, Path.Combine(_data.Root, Path.GetFileName(Path.GetDirectoryName(file))!, Path.GetFileName(file)));
        }
        finally
        {
            Directory.Delete(_data.PathOf("../" + Path.GetFileName(_data.Root) + "-new"), recursive: true);
        }
        Assert.That(added, Has.Count.EqualTo(6));

        var second = Train();
        Assert.That(second.ImagesExtracted, Is.EqualTo(6));
        Assert.That(second.ImagesFromCache, Is.EqualTo(30));
    }
}
