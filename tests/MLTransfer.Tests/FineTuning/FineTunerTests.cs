using MLTransfer.Backbones.Onnx;
using MLTransfer.FineTuning;
using MLTransfer.Inference;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Training;
using NUnit.Framework;

namespace MLTransfer.Tests.FineTuning;

/// <summary>
/// End to end on real images (the repository's data-samples: public-domain clip-art, 4 classes × 35) with the shared MobileNetV2,
/// kept short (2 epochs): the run reports curves and both scores, and the saved zip predicts exactly what
/// the in-memory fine-tuned model predicts.
/// </summary>
[TestFixture, NonParallelizable]
public class FineTunerTests
{
    private string _workspace = "";
    private string _output = "";
    private FineTuningResult _result = null!;

    private static string Samples => Path.Combine(TestPaths.RepoRoot, "data-samples");

    private TransferLearningOptions Transfer(int seed = 1) => new()
    {
        Backbone = new() { Name = "mobilenet-v2", Dirs = [TestPaths.SharedDir + "/models"], AllowDownload = false },
        Cache = new() { WorkspacePath = _workspace },
        Seed = seed,
    };

    [OneTimeSetUp]
    public void FineTuneOnce()
    {
        _workspace = Directory.CreateTempSubdirectory("mlt-ft-ws-").FullName;
        _output = Directory.CreateTempSubdirectory("mlt-ft-out-").FullName;
        _result = FineTuner.Run(Samples, new FineTuningOptions { Transfer = Transfer(), MaxEpochs = 2 });
    }

    [OneTimeTearDown]
    public void Cleanup()
    {
        _result.Dispose();
        Directory.Delete(_workspace, true);
        Directory.Delete(_output, true);
    }

    [Test]
    public void Report_HasTheCut_TheCurves_AndBothScores()
    {
        var r = _result.Report;
        Assert.That(r.Cut.CutTensor, Is.EqualTo("MobilenetV2/expanded_conv_15/add"));
        Assert.That(r.Cut.CutShape, Is.EqualTo(new[] { 160, 7, 7 }));
        Assert.That(r.TrainableParameters, Is.EqualTo(882_560));
        Assert.That(r.Epochs.Select(e => e.Epoch), Is.EqualTo(new[] { 0, 1, 2 }));
        Assert.That(r.Epochs.All(e => e.TrainLoss > 0 && e.SelectionAccuracy is >= 0 and <= 1), Is.True);
        Assert.That(r.BestEpoch, Is.InRange(0, 2));
        Assert.That(r.SelectionSet, Is.EqualTo("the validation split"));
        Assert.That(r.FrozenTest, Is.Not.Null);
        Assert.That(r.FineTunedTest, Is.Not.Null);
        TestContext.Out.WriteLine($"data-samples: frozen test {r.FrozenTest!.Accuracy:F3}, fine-tuned test {r.FineTunedTest!.Accuracy:F3}, best epoch {r.BestEpoch}");
        Assert.That(r.FineTunedTest.Accuracy, Is.GreaterThanOrEqualTo(0.7));
        Assert.That(_result.Model.Report.Test!.Accuracy, Is.EqualTo(r.FineTunedTest.Accuracy));
        Assert.That(_result.Model.Metadata.Head, Does.Contain("fine-tuned"));
    }

    [Test]
    public void HtmlReport_ShowsTheJointEpochs_TrainBesideTheEarlyStoppingSet()
    {
        var content = MLTransfer.Reporting.ReportContentFactory.FromFineTuning(_result);
        Assert.That(content.Epochs.Select(e => (e.Epoch, e.TrainAccuracy, e.ValidationAccuracy)),
            Is.EqualTo(_result.Report.Epochs.Select(e => (e.Epoch, e.TrainAccuracy, (double?)e.SelectionAccuracy))));
        Assert.That(content.Train, Is.Not.Null, "training accuracy of the saved head");
        var html = File.ReadAllText(MLTransfer.Reporting.HtmlReportWriter.Write(Path.Combine(_output, "report"), content));
        Assert.That(html, Does.Contain("id=\"plot-curves\"").And.Contain("train vs early-stopping set"));
        Assert.That(html, Does.Contain($"epoch {_result.Report.BestEpoch} was kept"));
        Assert.That(html, Does.Contain("id=\"calibration\"").And.Contain("id=\"ece-after\""));
    }

    [Test]
    public void TheFineTunedBackbone_IsThePreparedGraphWithNewWeights()
    {
        var original = OnnxModelIO.Parse(MLTransfer.Backbones.BackboneGraph.Prepare(TestPaths.SharedModel("mobilenet_v2_1.0_224.onnx"), _result.Model.Metadata.Backbone).OnnxBytes);
        var tuned = OnnxModelIO.Parse(_result.Backbone.OnnxBytes);
        Assert.That(tuned.Graph.Node.Select(n => n.Name), Is.EqualTo(original.Graph.Node.Select(n => n.Name)));
        var before = original.Graph.Initializer.ToDictionary(t => t.Name);
        var changed = tuned.Graph.Initializer.Where(t => !t.Equals(before[t.Name])).Select(t => t.Name).ToList();
        Assert.That(changed, Does.Contain("MobilenetV2/Conv_1/weights"));
        Assert.That(changed, Has.All.StartWith("MobilenetV2/expanded_conv_16/").Or.StartWith("MobilenetV2/Conv_1/"));
        Assert.That(tuned.MetadataProps.Any(kv => kv.Key == "mltransfer.finetuned"), Is.True);
    }

    [Test]
    public void SavedZip_ReloadsAndPredictsLikeTheInMemoryModel()
    {
        var zip = Path.Combine(_output, "samples-ft.zip");
        _result.Model.Save(zip);
        var images = Directory.GetFiles(Samples, "*.jpg", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Where((_, i) => i % 14 == 0).ToArray();
        Assert.That(images.Length, Is.GreaterThanOrEqualTo(8));
        var expected = _result.Score(images);
        using var classifier = ImageClassifier.Load(zip);
        Assert.That(classifier.Metadata.Head, Does.Contain("fine-tuned"));
        for (var i = 0; i < images.Length; i++)
        {
            var p = classifier.Predict(images[i]).Probabilities.Select(c => c.Probability).ToArray();
            Assert.That(p, Is.EqualTo(expected[i]).Within(1e-4f), images[i]);
        }
    }

    /// <summary>A small copy of hymenoptera: <paramref name="perClass"/> training and 6 validation images per class, no test split.</summary>
    private static TempDataset SmallHymenoptera(int perClass)
    {
        var data = new TempDataset();
        foreach (var split in new[] { "train", "val" })
            foreach (var label in new[] { "ants", "bees" })
            {
                var files = Directory.GetFiles(Path.Combine(TempDataset.SharedDatasets, "hymenoptera", split, label)).Order(StringComparer.Ordinal).Take(split == "train" ? perClass : 6);
                foreach (var f in files)
                    data.CopyShared(Path.GetRelativePath(TempDataset.SharedDatasets, f), $"{split}/{label}/{Path.GetFileName(f)}");
            }
        return data;
    }

    [Test]
    public void GivenSplitWithoutTest_EarlyStoppingCrossValidatesOnTrain_NotOnTheReportedValidation()
    {
        using var data = SmallHymenoptera(14);
        using var result = FineTuner.Run(data.Root, new FineTuningOptions { Transfer = Transfer(), MaxEpochs = 1, Unfreeze = 1, HeadWarmupSteps = 50 });
        var r = result.Report;
        Assert.That(r.SelectionSet, Does.Contain("5-fold cross-validation on the training images"));
        Assert.That(r.SelectionFolds, Is.EqualTo(5));
        Assert.That(r.FitImages, Is.EqualTo(28), "the saved backbone is trained on every training image");
        Assert.That(r.SelectionImages, Is.EqualTo(28), "every training image is scored once, out of fold");
        // Pooled over the folds, each early-stopping accuracy is a count out of all 28 training images.
        foreach (var e in r.Epochs)
            Assert.That(e.SelectionAccuracy * 28, Is.EqualTo(Math.Round(e.SelectionAccuracy * 28)).Within(1e-9), $"epoch {e.Epoch}");
        Assert.That(result.Model.Report.ValidationIsHeldOut, Is.True);
        Assert.That(r.FineTunedValidation, Is.Not.Null);
        Assert.That(r.FrozenTest, Is.Null);
    }

    [Test]
    public void GivenSplitWithoutTest_FoldsOff_CarvesPartOfTrain()
    {
        using var data = SmallHymenoptera(14);
        using var result = FineTuner.Run(data.Root, new FineTuningOptions { Transfer = Transfer(), MaxEpochs = 1, Unfreeze = 1, HeadWarmupSteps = 50, SelectionFolds = 0 });
        var r = result.Report;
        Assert.That(r.SelectionSet, Does.Contain("% of the training images"));
        Assert.That(r.SelectionFolds, Is.EqualTo(0));
        Assert.That(r.FitImages + r.SelectionImages, Is.EqualTo(28));
        Assert.That(r.SelectionImages, Is.GreaterThanOrEqualTo(2), "at least one per class");
    }

    [Test]
    public void CrossValidatedRun_RetrainsOnAllTrainingImages_ForTheChosenEpochCount()
    {
        // Real photos, the default learning rates: the saved backbone moved away from the pretrained weights
        // exactly when cross-validation chose a joint epoch.
        using var data = SmallHymenoptera(20);
        using var result = FineTuner.Run(data.Root, new FineTuningOptions { Transfer = Transfer(), MaxEpochs = 3, Unfreeze = 1, HeadWarmupSteps = 100 });
        var r = result.Report;
        Assert.That(r.SelectionFolds, Is.EqualTo(5));
        Assert.That(r.Epochs.Select(e => e.Epoch).Take(2), Is.EqualTo(new[] { 0, 1 }));
        Assert.That(r.Epochs.Skip(1).All(e => e.WeightDrift > 0), Is.True, "joint epochs move the backbone");
        Assert.That(r.KeptFrozenBackbone, Is.EqualTo(r.BestEpoch == 0));
        TestContext.Out.WriteLine($"cross-validated: best epoch {r.BestEpoch}, pooled curve {string.Join(" ", r.Epochs.Select(e => $"{e.SelectionLoss:F3}/{e.SelectionAccuracy:F3}"))}");
        Assert.That(ChangedInitializers(result), r.BestEpoch > 0 ? Is.Not.Empty : Is.Empty);
    }

    [Test]
    public void WhenNoEpochBeatsTheFrozenBackbone_TheBackboneIsSavedUnchanged_AndTheRunSaysSo()
    {
        // A learning rate far too high wrecks the top layers in the first joint epoch, so epoch 0 (the head
        // alone on the pretrained backbone) must win the cross-validated score: the safety rule.
        using var data = SmallHymenoptera(14);
        var lines = new List<string>();
        var transfer = Transfer() with { Log = lines.Add };
        using var result = FineTuner.Run(data.Root, new FineTuningOptions
        {
            Transfer = transfer,
            MaxEpochs = 2,
            Patience = 2,
            Unfreeze = 1,
            HeadWarmupSteps = 50,
            LearningRate = 0.5f,
            BackboneLearningRateFactor = 1f,
        });
        var r = result.Report;
        Assert.That(r.Epochs.Skip(1).All(e => e.SelectionLoss > r.Epochs[0].SelectionLoss), Is.True, "the wrecked epochs score worse");
        Assert.That(r.BestEpoch, Is.EqualTo(0));
        Assert.That(r.KeptFrozenBackbone, Is.True);
        Assert.That(lines, Has.Some.Contains("the backbone is saved unchanged"));
        Assert.That(ChangedInitializers(result), Is.Empty);
        Assert.That(r.FineTunedValidation!.Accuracy, Is.EqualTo(r.FrozenValidation!.Accuracy));
    }

    private static List<string> ChangedInitializers(FineTuningResult result)
    {
        var original = OnnxModelIO.Parse(MLTransfer.Backbones.BackboneGraph.Prepare(TestPaths.SharedModel("mobilenet_v2_1.0_224.onnx"), result.Model.Metadata.Backbone).OnnxBytes);
        var before = original.Graph.Initializer.ToDictionary(t => t.Name);
        return OnnxModelIO.Parse(result.Backbone.OnnxBytes).Graph.Initializer.Where(t => !t.Equals(before[t.Name])).Select(t => t.Name).ToList();
    }

    [Test]
    public void Cli_FineTune_WritesAModelAndReportsCurvesAsJson()
    {
        var zip = Path.Combine(_output, "cli-ft.zip");
        var cli = CliRunner.Run(["finetune", "--data", Samples, "--seed", "1", "--epochs", "1", "--backbone", "mobilenet-v2",
            "--backbone-dir", TestPaths.SharedDir + "/models", "--offline", "--workspace", _workspace, "--output", zip, "--json"], TimeSpan.FromMinutes(5));
        Assert.That(cli.ExitCode, Is.EqualTo(0), cli.StdErr);
        using var doc = System.Text.Json.JsonDocument.Parse(cli.StdOut);
        var ft = doc.RootElement.GetProperty("fineTuning");
        Assert.That(ft.GetProperty("epochs").GetArrayLength(), Is.EqualTo(2));
        Assert.That(ft.GetProperty("cut").GetProperty("cutTensor").GetString(), Is.EqualTo("MobilenetV2/expanded_conv_15/add"));
        Assert.That(doc.RootElement.GetProperty("report").GetProperty("imagesFromCache").GetInt32(), Is.EqualTo(140), "cut activations come from the cache the fixture filled");
        Assert.That(File.Exists(zip), Is.True);

        var bad = CliRunner.Run(["finetune", "--data", Samples, "--unfreeze", "999", "--backbone", "mobilenet-v2",
            "--backbone-dir", TestPaths.SharedDir + "/models", "--offline", "--workspace", _workspace, "--output", zip]);
        Assert.That(bad.ExitCode, Is.EqualTo(1));
        Assert.That(bad.StdErr, Does.Contain("Cannot unfreeze 999"));
    }

    [Test]
    public void ResNetStyleBackbone_FineTunesThroughItsResidualBlock_AndTheZipAgrees()
    {
        var file = Path.Combine(_output, "tiny_resnet.onnx");
        File.WriteAllBytes(file, OnnxFixtures.Bytes(OnnxFixtures.TinyResNet()));
        var options = new FineTuningOptions
        {
            Transfer = new TransferLearningOptions
            {
                Backbone = new() { Name = file, Adjust = d => d with { InputWidth = 32, InputHeight = 32 }, AllowDownload = false },
                Cache = new() { WorkspacePath = _workspace },
                Seed = 2,
            },
            Unfreeze = 3,
            MaxEpochs = 1,
            HeadWarmupSteps = 50,
        };
        using var result = FineTuner.Run(Samples, options);
        Assert.That(result.Report.Cut.CutTensor, Is.EqualTo(OnnxFixtures.InputName));
        Assert.That(result.Report.Cut.ConvLayers, Is.EqualTo(3));
        var zip = Path.Combine(_output, "tiny-ft.zip");
        result.Model.Save(zip);
        var images = Directory.GetFiles(Samples, "*.jpg", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Where((_, i) => i % 20 == 0).ToArray();
        var expected = result.Score(images);
        using var classifier = ImageClassifier.Load(zip);
        for (var i = 0; i < images.Length; i++)
            Assert.That(classifier.Predict(images[i]).Probabilities.Select(c => c.Probability).ToArray(), Is.EqualTo(expected[i]).Within(1e-4f), images[i]);
    }
}
