using MLTransfer.Data;
using MLTransfer.Images;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Tests.Service;
using MLTransfer.Training;
using NUnit.Framework;

namespace MLTransfer.Tests.Training;

/// <summary>The shared run: each image is hashed once, and a warm run reads no image at all.</summary>
[TestFixture, NonParallelizable]
public class TrainingRunTests
{
    [Test]
    public void EachImageIsHashedOnce_AndAWarmRunReadsNoImage()
    {
        var workspace = Directory.CreateTempSubdirectory("mlt-run-").FullName;
        try
        {
            var options = new TransferLearningOptions
            {
                Backbone = new() { Name = "mobilenet-v1-0.75-192", Dirs = [Path.Combine(TestPaths.SharedDir, "models")], AllowDownload = false },
                Cache = new() { WorkspacePath = workspace },
            };
            var images = Directory.GetFiles(ServiceModels.SamplesDir, "*.jpg", SearchOption.AllDirectories).Length;

            var (hashed, read) = (ContentHasher.FilesHashed, ImageDecoder.FilesRead);
            using (var cold = TransferLearner.Train(ServiceModels.SamplesDir, options))
                Assert.That(cold.Report.ImagesExtracted, Is.EqualTo(images));
            Assert.That(ContentHasher.FilesHashed - hashed, Is.EqualTo(images), "the split's hash is the cache key: one hash per image");
            Assert.That(ImageDecoder.FilesRead - read, Is.EqualTo(images), "each image is read once more, to decode it");

            (hashed, read) = (ContentHasher.FilesHashed, ImageDecoder.FilesRead);
            using (var warm = TransferLearner.Train(ServiceModels.SamplesDir, options with { Seed = 7 }))
                Assert.That(warm.Report.ImagesFromCache, Is.EqualTo(images));
            Assert.That(ContentHasher.FilesHashed - hashed, Is.EqualTo(images));
            Assert.That(ImageDecoder.FilesRead - read, Is.Zero, "cached features are found by the hash alone");
        }
        finally
        {
            Directory.Delete(workspace, true);
        }
    }
}
