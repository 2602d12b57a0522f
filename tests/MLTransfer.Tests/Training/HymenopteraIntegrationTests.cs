using MLTransfer.Tests.Fixtures;
using MLTransfer.Training;
using NUnit.Framework;

namespace MLTransfer.Tests.Training;

/// <summary>The PyTorch transfer-learning tutorial's ants-vs-bees set, with its given train/val split.</summary>
[TestFixture, NonParallelizable]
public class HymenopteraIntegrationTests
{
    [Test]
    public void GivenSplitIsUsed_AndValidationAccuracyMeetsTheFloor()
    {
        var workspace = Directory.CreateTempSubdirectory("mlt-hym-ws-").FullName;
        try
        {
            using var model = TransferLearner.Train(TestPaths.SharedDataset("hymenoptera"), new TransferLearningOptions
            {
                Backbone = new() { Name = TestPaths.SharedModel("mobilenet_v2_1.0_224.onnx"), AllowDownload = false },
                Cache = new() { WorkspacePath = workspace },
            });
            var r = model.Report;
            Assert.That(r.GivenSplit, Is.True);
            Assert.That(r.ValidationIsHeldOut, Is.True, "no test/ folder: validation is the held-out set");
            Assert.That(r.Counts.Select(c => (c.Label, c.Train, c.Validation, c.Test)),
                Is.EqualTo(new[] { ("ants", 123, 70, 0), ("bees", 121, 83, 0) }));
            Assert.That(r.Test, Is.Null);
            TestContext.Out.WriteLine($"hymenoptera val accuracy {r.Validation!.Accuracy:F4}, extraction {r.ExtractionImagesPerSecond:F0} images/s");
            Assert.That(r.Validation.Accuracy, Is.GreaterThanOrEqualTo(0.93));
            Assert.That(r.BackboneReason, Does.Contain("explicit"), "an explicit file is reported as such");

            // Validation is the reported held-out set, so calibration must not touch it: it is fitted on out-of-fold
            // predictions of the training images, and measured on validation.
            var c = r.Confidence!;
            TestContext.Out.WriteLine($"hymenoptera temperature {c.Temperature:F3}, validation ECE {c.Before.ExpectedCalibrationError:F4} -> {c.After.ExpectedCalibrationError:F4}, in-domain coverage {c.InDomainCoverage:F3}");
            Assert.That(c.FittedOn, Does.StartWith("5-fold cross-validation on the 244 training images"));
            Assert.That(model.Metadata.Calibration!.FittedImages, Is.EqualTo(244));
            Assert.That(c.MeasuredOn, Is.EqualTo("validation"));
            Assert.That(c.After.ExpectedCalibrationError, Is.LessThan(c.Before.ExpectedCalibrationError));
            Assert.That(r.Train!.Count, Is.EqualTo(244));
        }
        finally
        {
            Directory.Delete(workspace, true);
        }
    }
}
