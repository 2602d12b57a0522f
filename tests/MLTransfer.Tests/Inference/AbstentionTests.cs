using MLTransfer.Inference;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Training;
using NUnit.Framework;

namespace MLTransfer.Tests.Inference;

/// <summary>
/// A flowers model (MobileNetV2, seed 1) knows when not to answer: its probabilities are calibrated on the
/// validation split and better calibrated on the test split than the head's own, and it abstains on images from
/// other domains (satellite patches, blood smears, a clip-art apple) while answering nearly all held-out flowers.
/// </summary>
[TestFixture, NonParallelizable]
public class AbstentionTests
{
    private string _dir = "";
    private TrainedModel _model = null!;
    private ImageClassifier _classifier = null!;

    [OneTimeSetUp]
    public void TrainOnce()
    {
        _dir = Directory.CreateTempSubdirectory("mlt-abstain-").FullName;
        _model = TransferLearner.Train(TestPaths.SharedDataset("flowers"), new TransferLearningOptions
        {
            Backbone = new() { Name = "mobilenet-v2", Dirs = [Path.Combine(TestPaths.SharedDir, "models")], AllowDownload = false },
            Cache = new() { WorkspacePath = Path.Combine(_dir, "ws") },
            Seed = 1,
        });
        var zip = Path.Combine(_dir, "flowers.zip");
        _model.Save(zip);
        _classifier = ImageClassifier.Load(zip);
    }

    [OneTimeTearDown]
    public void Cleanup()
    {
        _classifier.Dispose();
        _model.Dispose();
        Directory.Delete(_dir, true);
    }

    [Test]
    public void Temperature_IsFittedOnValidation_AndLowersTheTestCalibrationError()
    {
        var c = _model.Report.Confidence!;
        TestContext.Out.WriteLine($"temperature {c.Temperature:F3}; test ECE {c.Before.ExpectedCalibrationError:F4} -> {c.After.ExpectedCalibrationError:F4}; in-domain coverage {c.InDomainCoverage:F3}");
        Assert.That(c.FittedOn, Does.Contain("validation split (90 images)"));
        Assert.That(_model.Metadata.Calibration!.FittedImages, Is.EqualTo(90));
        Assert.That(c.MeasuredOn, Is.EqualTo("test"));
        Assert.That(c.Before.Bins.Sum(b => b.Count), Is.EqualTo(90));
        Assert.That(c.After.ExpectedCalibrationError, Is.LessThan(c.Before.ExpectedCalibrationError));
        // The threshold accepts 95% of validation; the test split is another sample of the same domain.
        Assert.That(c.InDomainCoverage, Is.GreaterThan(0.85));
    }

    [Test]
    public void ClipArtApple_IsNotAConfidentRose()
    {
        var p = _classifier.Predict(ClipArt.Apple());
        TestContext.Out.WriteLine($"clip-art apple: {p.Label} {p.Probability:F3}, {p.Abstention}, out-of-domain score {p.OutOfDomainScore:F3} (threshold {p.OutOfDomainThreshold:F3})");
        Assert.That(p.IsConfident && p.Label == "roses", Is.False, "a clip-art apple answered as a confident rose");
        Assert.That(p.Abstention, Is.EqualTo(AbstentionReason.OutOfDomain));
    }

    [Test]
    public void ForeignImages_AreOutOfDomain_WhileHeldOutFlowersAreAnswered()
    {
        var foreign = new[] { "eurosat_rgb", "bccd_wbc" }
            .SelectMany(d => Directory.GetFiles(TestPaths.SharedDataset(d), "*.jpg", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Where((_, i) => i % 50 == 0))
            .ToList();
        var abstained = foreign.Count(f => _classifier.Predict(f).Abstention == AbstentionReason.OutOfDomain);
        TestContext.Out.WriteLine($"{abstained} of {foreign.Count} satellite and blood-smear images judged out of domain");
        Assert.That(abstained, Is.GreaterThanOrEqualTo((int)(0.9 * foreign.Count)));

        var heldOut = _model.Report.HeldOut;
        var predictions = heldOut.Select(o => _classifier.Predict(o.Path)).ToList();
        var answered = predictions.Count(p => p.IsConfident);
        Assert.That(answered, Is.GreaterThanOrEqualTo((int)(0.85 * heldOut.Count)), "held-out flowers answered");
        // The saved model scores what training measured: the report's out-of-domain scores are the classifier's.
        for (var i = 0; i < heldOut.Count; i++)
            Assert.That(predictions[i].OutOfDomainScore, Is.EqualTo(heldOut[i].OutOfDomainScore).Within(1e-4f), heldOut[i].Path);
    }

    [Test]
    public void MinConfidence_WithholdsUnsureAnswers_AndIsChecked()
    {
        var path = _model.Report.HeldOut.First(o => o.Confidence < 0.9 && o.OutOfDomainScore < _model.Metadata.Calibration!.OutOfDomainThreshold).Path;
        var plain = _classifier.Predict(path);
        Assert.That(plain.IsConfident, Is.True);
        var strict = _classifier.Predict(path, minConfidence: 0.9f);
        Assert.That(strict.Abstention, Is.EqualTo(AbstentionReason.LowProbability));
        Assert.That(strict.Label, Is.EqualTo(plain.Label), "the most probable class is still reported");
        static object Verdict(ImagePrediction p) => (p.Label, p.Probability, p.IsConfident, p.Abstention, p.MinConfidence, p.OutOfDomainScore);
        Assert.That(Verdict(plain.WithMinConfidence(0.9f)), Is.EqualTo(Verdict(strict)));
        Assert.That(Verdict(strict.WithMinConfidence(0)), Is.EqualTo(Verdict(plain)));
        Assert.Throws<ArgumentOutOfRangeException>(() => _classifier.Predict(path, minConfidence: 1.5f));
        Assert.Throws<ArgumentOutOfRangeException>(() => plain.WithMinConfidence(float.NaN));
    }
}
