using MLTransfer.Export;
using MLTransfer.Inference;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Tests.Service;
using NUnit.Framework;

namespace MLTransfer.Tests.Export;

/// <summary>
/// A model zip is untrusted input: every broken kind found by the hostile review is refused at load with one
/// line that says what, where and what to do — never a crash at predict time, never a wrong answer.
/// </summary>
public class ModelZipVerificationTests
{
    private string _dir = "";

    [OneTimeSetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("mlt-zipcheck-").FullName;

    [OneTimeTearDown]
    public void TearDown() => Directory.Delete(_dir, true);

    private static readonly BrokenZip[] Kinds = Enum.GetValues<BrokenZip>();

    [TestCaseSource(nameof(Kinds))]
    public void BrokenZip_IsRefusedAtLoad_WithOneLineSayingWhatWhereAndFix(BrokenZip kind)
    {
        var path = BrokenModelZips.Write(ServiceModels.First, kind, Path.Combine(_dir, $"{kind}.zip"));
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        var e = Assert.Throws<MLTransferException>(() => ImageClassifier.Load(path)?.Dispose(), kind.ToString())!;
        allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
        TestContext.Out.WriteLine($"{kind}: {e.Message}");
        Assert.That(e.Message, Does.Not.Contain('\n'), "one line");
        Assert.That(e.Where, Is.EqualTo(path));
        Assert.That(e.Fix, Is.Not.Null.And.Not.Empty);
        Assert.That(allocated, Is.LessThan(256L << 20), "refusing a zip must not read it whole into memory (the bomb inflates to 1 GiB)");
        var expected = kind switch
        {
            BrokenZip.Truncated => "damaged or truncated",
            BrokenZip.MetadataRemoved => "not an MLTransfer model",
            BrokenZip.ClassNamesReversed => "names the classes",
            BrokenZip.TooManyClassNames => "scores 4 classes but the metadata names 7",
            BrokenZip.NoClassNames => "classNames has 0 entries",
            BrokenZip.TwoClassNames => "scores 4 classes but the metadata names 2",
            BrokenZip.NullClassNames => "classNames is missing",
            BrokenZip.ForeignChain => "no MLTransfer backbone graph",
            BrokenZip.BackboneShaMismatch => "prepared from",
            BrokenZip.MetadataBomb => "metadata entry declares",
            BrokenZip.BackboneNull => "backbone is missing",
            BrokenZip.InputSizeZero => "input size 0×0",
            BrokenZip.InputSizeHuge => "input size 100000×100000",
            BrokenZip.InputSizeWrong => "embedded graph takes",
            BrokenZip.ResizeModeChanged => "prepared for",
            BrokenZip.FeatureSizeWrong => "features but the embedded backbone gives",
            BrokenZip.WeightsAltered => "fails its checksum",
            _ => throw new ArgumentOutOfRangeException(nameof(kind)),
        };
        Assert.That(e.Message, Does.Contain(expected));
    }

    [Test]
    public void GoodZip_LoadsAndPredictsAsTrained()
    {
        using var classifier = ImageClassifier.Load(ServiceModels.First);
        var (image, label) = ServiceModels.SampleImages(1)[0];
        Assert.That(classifier.Predict(image).Probabilities.Sum(p => p.Probability), Is.EqualTo(1).Within(1e-4));
        Assert.That(classifier.ClassNames, Does.Contain(label));
    }

    [Test]
    public void ReadMetadata_OfABomb_IsRefusedFromTheZipDirectory_WithoutInflatingIt()
    {
        var path = BrokenModelZips.Write(ServiceModels.First, BrokenZip.MetadataBomb, Path.Combine(_dir, "bomb-metadata-only.zip"));
        var allocated = GC.GetTotalAllocatedBytes(precise: true);
        var e = Assert.Throws<MLTransferException>(() => ModelPackage.ReadMetadata(path))!;
        Assert.That(GC.GetTotalAllocatedBytes(precise: true) - allocated, Is.LessThan(16L << 20));
        Assert.That(e.Message, Does.Contain("metadata entry declares"));
    }

    [Test]
    public void NotARegularFile_IsRefusedWithoutOpeningIt()
    {
        // A FIFO would block a reader forever; a folder is a typo.
        var fifo = Path.Combine(_dir, "fifo.zip");
        using (var mk = System.Diagnostics.Process.Start("mkfifo", fifo)) mk.WaitForExit();
        var task = Task.Run(() => Assert.Throws<MLTransferException>(() => ModelPackage.ReadMetadata(fifo)));
        Assert.That(task.Wait(TimeSpan.FromSeconds(10)), Is.True, "reading a FIFO must not hang");
        Assert.That(task.Result!.Message, Does.Contain("empty (or not a regular file)"));
        var folder = Assert.Throws<MLTransferException>(() => ModelPackage.ReadMetadata(_dir))!;
        Assert.That(folder.Message, Does.Contain("is a folder"));
    }
}
