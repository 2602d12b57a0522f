using MLTransfer.Tests.Fixtures;
using MLTransfer.Tests.Images;
using MLTransfer.Training;
using NUnit.Framework;

namespace MLTransfer.Tests.Training;

/// <summary>
/// Whole training runs (tiny generated images, a tiny random backbone) that must neither lose work nor hide a
/// problem: a damaged cache is repaired and reported, and what could not be used is said.
/// </summary>
[TestFixture]
public class TransferLearnerIntegrityTests
{
    private string _root = "";
    private string _backbone = "";
    private string _workspace = "";

    [SetUp]
    public void SetUp()
    {
        _root = Directory.CreateTempSubdirectory("mlt-integrity-").FullName;
        _backbone = TinyImages.WriteBackbone(Path.Combine(_root, "backbone"));
        _workspace = Path.Combine(_root, "ws");
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_root, recursive: true);

    private string TwoClasses(int perClass = 8)
    {
        var data = Path.Combine(_root, "data");
        TinyImages.WriteClass(Path.Combine(data, "red"), "red", 0, perClass);
        TinyImages.WriteClass(Path.Combine(data, "blue"), "blue", 1, perClass);
        return data;
    }

    private (TrainingReport Report, List<string> Log) Train(string data)
    {
        var log = new List<string>();
        using var model = TransferLearner.Train(data, TinyImages.TrainingOptions(_backbone, _workspace, log.Add));
        return (model.Report, log);
    }

    [Test]
    public void DamagedCacheHeader_IsMovedAside_AndTheRunGoesOnAndSaysSo()
    {
        var data = TwoClasses();
        Assert.That(Train(data).Report.ImagesExtracted, Is.EqualTo(16));
        var cacheFile = Directory.GetFiles(Path.Combine(_workspace, "features"), "features.bin", SearchOption.AllDirectories).Single();
        File.WriteAllBytes(cacheFile, new byte[new FileInfo(cacheFile).Length]);

        var (report, log) = Train(data);

        Assert.That(report.ImagesExtracted, Is.EqualTo(16), "a fresh cache: everything is extracted again");
        var aside = Directory.GetFiles(Path.GetDirectoryName(cacheFile)!, "features.bin.corrupt-*").Single();
        Assert.That(log, Has.One.StartsWith("feature cache: the file does not start with the feature cache signature").And.Contain(aside));
    }

    [Test]
    public void RandomBytesThatSkiaReadsAsWbmp_AreSkippedWithTheReason_NotTrainedOn()
    {
        var data = TwoClasses();
        var noise = Path.Combine(data, "red", "noise.jpg");
        File.WriteAllBytes(noise, ImageFormatTests.WbmpLookalike());

        var (report, log) = Train(data);

        var skipped = report.Skipped.Single(s => s.Path == noise);
        Assert.That(skipped.Reason, Does.StartWith("not a supported image").And.Contain("JPEG, PNG, BMP, GIF or WebP"));
        Assert.That(log, Has.One.StartsWith($"skipped: {noise}: not a supported image"));
        Assert.That(report.Counts.Sum(c => c.Total), Is.EqualTo(16), "only the 16 real images are used");
    }

    /// <summary>train/, val/ and test/ folders of red and blue images, with <paramref name="broken"/>/blue holding only unusable files.</summary>
    private string GivenSplitWithBrokenBlue(string broken)
    {
        var data = Path.Combine(_root, "data");
        var seed = 0;
        foreach (var (split, count) in new[] { ("train", 6), ("val", 2), ("test", 2) })
        {
            TinyImages.WriteClass(Path.Combine(data, split, "red"), "red", 0, count, seed);
            var blue = TinyImages.WriteClass(Path.Combine(data, split, "blue"), "blue", 1, count, seed);
            seed += count;
            if (split == broken)
                foreach (var file in blue)
                    File.WriteAllBytes(file, File.ReadAllBytes(file)[..40]); // a PNG cut off inside its header chunk
        }
        return data;
    }

    [TestCase("val", "validation")]
    [TestCase("test", "test")]
    public void ClassLeftWithNoUsableImagesInASet_IsWarnedAbout(string folder, string set)
    {
        var (report, log) = Train(GivenSplitWithBrokenBlue(folder));

        var expected = $"Class 'blue' has no usable {set} images: all 2 of them were skipped as unusable";
        Assert.That(report.Warnings, Has.One.StartsWith(expected).And.Contain($"the {set} scores say nothing about it"));
        Assert.That(log, Has.One.StartsWith("warning: " + expected));
        Assert.That(report.Warnings.Count(w => w.Contains("no usable")), Is.EqualTo(1), "red still has its images");
    }

    [Test]
    public void EveryClassWithUsableImagesInEverySet_GivesNoSuchWarning()
    {
        var (report, _) = Train(GivenSplitWithBrokenBlue("none"));
        Assert.That(report.Warnings, Is.Empty);
    }
}
