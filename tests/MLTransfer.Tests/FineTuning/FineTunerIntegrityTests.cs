using MLTransfer.FineTuning;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;

namespace MLTransfer.Tests.FineTuning;

/// <summary>Fine-tuning runs on tiny generated images and a tiny backbone: what could not be used is said.</summary>
[TestFixture]
public class FineTunerIntegrityTests
{
    private string _root = "";

    [SetUp]
    public void SetUp() => _root = Directory.CreateTempSubdirectory("mlt-ft-integrity-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_root, recursive: true);

    [Test]
    public void ClassLeftWithNoUsableTestImages_IsWarnedAbout()
    {
        var data = Path.Combine(_root, "data");
        var seed = 0;
        foreach (var (split, count) in new[] { ("train", 6), ("val", 2), ("test", 2) })
        {
            TinyImages.WriteClass(Path.Combine(data, split, "red"), "red", 0, count, seed);
            var blue = TinyImages.WriteClass(Path.Combine(data, split, "blue"), "blue", 1, count, seed);
            seed += count;
            if (split == "test")
                foreach (var file in blue)
                    File.WriteAllBytes(file, File.ReadAllBytes(file)[..40]);
        }
        var log = new List<string>();
        var transfer = TinyImages.TrainingOptions(TinyImages.WriteBackbone(Path.Combine(_root, "backbone")), Path.Combine(_root, "ws"), log.Add);

        using var result = FineTuner.Run(data, new FineTuningOptions { Transfer = transfer, Unfreeze = 3, MaxEpochs = 1, HeadWarmupSteps = 20 });

        const string expected = "Class 'blue' has no usable test images: all 2 of them were skipped as unusable";
        Assert.That(result.Model.Report.Warnings, Has.One.StartsWith(expected));
        Assert.That(log, Has.One.StartsWith("warning: " + expected));
        Assert.That(log, Has.One.StartsWith("cut-activation cache: "));
    }
}
