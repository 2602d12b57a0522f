using Google.Protobuf;
using MLTransfer.Backbones;
using MLTransfer.Features;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Training;
using NUnit.Framework;
using static MLTransfer.Tests.Backbones.BackboneTestSupport;

namespace MLTransfer.Tests.Backbones;

/// <summary>A graph whose batch dimension is pinned (CNTK exports batch 1) still extracts any number of images, and says so.</summary>
[TestFixture, NonParallelizable]
public class FixedBatchBackboneTests
{
    [TestCase(1, 5)]
    [TestCase(2, 5)]
    [TestCase(2, 4)]
    public void Session_SplitsRequestsIntoCallsOfThePinnedSize(int pinned, int images)
    {
        var prepared = BackboneGraph.Prepare(OnnxFixtures.Bytes(OnnxFixtures.TinyHeadless(fixedBatch: pinned)), Tiny());
        var dynamic = BackboneGraph.Prepare(OnnxFixtures.Bytes(OnnxFixtures.TinyHeadless()), Tiny());
        Assert.That(prepared.FixedBatchSize, Is.EqualTo(pinned));
        Assert.That(dynamic.FixedBatchSize, Is.Null);

        var pixels = RandomPixels(images, 32, 32, seed: 3);
        using var pinnedSession = new BackboneSession(prepared);
        using var dynamicSession = new BackboneSession(dynamic);
        Assert.That(pinnedSession.FixedBatchSize, Is.EqualTo(pinned));
        var expected = dynamicSession.Run(pixels, images);
        var actual = pinnedSession.Run(pixels, images);
        Assert.That(actual, Has.Length.EqualTo(images));
        for (var i = 0; i < images; i++)
            Assert.That(actual[i], Is.EqualTo(expected[i]).Within(1e-5f), $"image {i}");
    }

    [Test]
    public void Train_WithABatchOneGraph_WorksAndLogsThatImagesRunOneAtATime()
    {
        var dir = Directory.CreateTempSubdirectory("mlt-fixed-batch-").FullName;
        try
        {
            var file = Path.Combine(dir, "batch1.onnx");
            File.WriteAllBytes(file, OnnxFixtures.TinyHeadless(fixedBatch: 1).ToByteArray());
            var log = new List<string>();
            using var model = TransferLearner.Train(Path.Combine(TestPaths.RepoRoot, "data-samples"), new TransferLearningOptions
            {
                Backbone = new() { Name = file, Adjust = d => d with { InputWidth = 32, InputHeight = 32 }, AllowDownload = false },
                Cache = new() { WorkspacePath = Path.Combine(dir, "ws") },
                Log = log.Add,
            });
            Assert.That(model.Report.ImagesExtracted, Is.GreaterThan(130), "every distinct sample image went through the batch-1 graph");
            Assert.That(log, Has.Some.EqualTo("batch: the backbone graph fixes its batch size at 1, so images run one at a time whatever FeatureExtractionOptions.BatchSize (CLI: --batch-size) says"));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
