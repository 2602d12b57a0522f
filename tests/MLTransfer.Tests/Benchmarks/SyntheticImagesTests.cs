using MLTransfer.Cli.Benchmarks;
using MLTransfer.Data;
using MLTransfer.Images;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;

namespace MLTransfer.Tests.Benchmarks;

public class SyntheticImagesTests
{
    [Test]
    public void Copies_AreDecodableDistinctImages_InClassFolders()
    {
        var dir = Directory.CreateTempSubdirectory("mlt-synth-").FullName;
        try
        {
            var files = SyntheticImages.Write([TestPaths.SharedDataset("hymenoptera")], dir, copies: 3, seed: 2, maxPerClass: 4);
            Assert.That(files, Has.Count.EqualTo(2 * 4 * 3));
            Assert.That(Directory.GetDirectories(dir).Select(Path.GetFileName), Is.EquivalentTo(new[] { "ants", "bees" }));
            Assert.That(files.Select(ContentHasher.Sha256Of).Distinct().Count(), Is.EqualTo(files.Count), "every copy must have its own content hash");
            Assert.That(files.Count(f => Path.GetFileName(f).StartsWith(SyntheticImages.CopyPrefix(0))), Is.EqualTo(8));
            foreach (var f in files)
                Assert.That(ImageDecoder.DecodeFile(f, 32, 32, MLTransfer.Images.ResizeMode.Fill).Width, Is.EqualTo(32));
            Assert.That(DatasetLoader.Load(dir).Images, Has.Count.EqualTo(files.Count));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Test]
    public void PeakMemory_IsReadFromProc()
    {
        // Current first: the peak only grows, so a peak read afterwards must cover it even while other
        // tests allocate in between (reading them the other way round failed once by 4 KiB).
        var current = PeakMemory.CurrentBytes();
        Assert.That(PeakMemory.PeakBytes(), Is.GreaterThanOrEqualTo(current).And.GreaterThan(0));
    }
}
