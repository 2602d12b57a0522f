using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using MLTransfer.Backbones;
using MLTransfer.Export;
using MLTransfer.Features;
using MLTransfer.Images;
using MLTransfer.Tests.Backbones.Real;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Training;
using NUnit.Framework;

namespace MLTransfer.Tests.Training;

/// <summary>
/// The backbones of issue 18 — both ResNets, concatenations, flip test-time augmentation, the choice among
/// candidates: training combines the members' cached features exactly as the saved graph does, every kind of
/// zip reloads in a fresh process with the in-memory scores, and export writes one ONNX that agrees with the zip.
/// </summary>
[TestFixture, NonParallelizable]
public class CompositeBackboneTests
{
    private string _dir = "";
    private TempDataset _data = null!;

    [OneTimeSetUp]
    public void SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("mlt-composite-").FullName;
        _data = RealBackboneRuns.FlowersSubset(6);
    }

    [OneTimeTearDown]
    public void TearDown()
    {
        _data.Dispose();
        Directory.Delete(_dir, true);
    }

    private TransferLearningOptions Options(string backbone) => new()
    {
        Backbone = new() { Name = backbone, Dirs = [Path.Combine(TestPaths.SharedDir, "models")], AllowDownload = false },
        Cache = new() { WorkspacePath = Path.Combine(_dir, "ws") },
        Seed = 1,
    };

    private IReadOnlyList<string> SomeImages() =>
        Directory.GetFiles(_data.Root, "*.jpg", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Where((_, i) => i % 4 == 0).ToList();

    [TestCase("mobilenet-v2+resnet50")]
    [TestCase("tta:mobilenet-v2")]
    [TestCase("tta:mobilenet-v2+resnet50")]
    public void TrainingFeatures_AreWhatTheCompositeGraphComputes(string backbone)
    {
        var run = TrainingRun.Start(_data.Root, Options(backbone), CancellationToken.None);
        Assert.That(run.Backbone.Spec.IsComposite, Is.True);
        var training = run.Extract();
        var images = SomeImages();
        using var session = new BackboneSession(run.Prepared);
        var graph = FeatureExtractor.Extract(images, session);
        var worst = 0f;
        foreach (var image in images)
        {
            var a = training.ByName[image];
            var b = graph.ByName[image];
            Assert.That(a, Has.Length.EqualTo(run.Prepared.FeatureSize));
            worst = Math.Max(worst, a.Zip(b, (x, y) => Math.Abs(x - y)).Max());
        }
        TestContext.Out.WriteLine($"{backbone}: max |training − graph| = {worst:G3} over {images.Count} images");
        Assert.That(worst, Is.LessThanOrEqualTo(1e-4f));
    }

    // Every kind of backbone this issue added: the two ResNets, a concatenation, a flip-averaged one.
    [TestCase("resnet50")]
    [TestCase("resnet18")]
    [TestCase("mobilenet-v2+resnet50")]
    [TestCase("tta:mobilenet-v2")]
    public void SavedZip_ReloadsInAFreshProcessWithTheSameScores_AndExportsToOneOnnx(string backbone)
    {
        var images = SomeImages();
        using var model = TransferLearner.Train(_data.Root, Options(backbone));
        Assert.That(model.Metadata.Backbone.Name, Is.EqualTo(backbone));
        var inMemory = RealBackboneRuns.InMemoryScores(model, images);
        var zip = Path.Combine(_dir, backbone.Replace(':', '-') + ".zip");
        model.Save(zip);

        // A fresh process: the CLI's predict.
        var predict = CliRunner.Run(["predict", "-m", zip, "--top", "5", "--json", .. images]);
        Assert.That(predict.ExitCode, Is.EqualTo(0), predict.ToString());
        using var doc = JsonDocument.Parse(predict.StdOut);
        var classes = model.Metadata.ClassNames;
        var predictions = doc.RootElement.GetProperty("predictions").EnumerateArray().ToList();
        for (var i = 0; i < images.Count; i++)
        {
            var byClass = predictions[i].GetProperty("topK").EnumerateArray().ToDictionary(p => p.GetProperty("label").GetString()!, p => p.GetProperty("probability").GetSingle());
            Assert.That(classes.Select(c => byClass[c]).ToArray(), Is.EqualTo(inMemory[i]).Within(1e-5f), $"{images[i]}: fresh process vs in-memory");
        }

        // One ONNX, raw pixels in, probabilities out.
        var onnx = Path.Combine(_dir, backbone.Replace(':', '-') + ".onnx");
        File.WriteAllBytes(onnx, FusedOnnxExporter.Export(zip));
        using var session = new InferenceSession(onnx);
        var d = model.Metadata.Backbone;
        for (var i = 0; i < images.Count; i++)
        {
            var pixels = new float[3 * d.InputWidth * d.InputHeight];
            ImageDecoder.DecodeFile(images[i], d.InputWidth, d.InputHeight, d.ResizeMode).WritePlanes(pixels);
            using var input = OrtValue.CreateTensorValueFromMemory(pixels, [1, 3, d.InputHeight, d.InputWidth]);
            using var outputs = session.Run(new RunOptions(), [PreparedBackbone.InputName], [input], [FusedOnnxExporter.OutputName]);
            Assert.That(outputs[0].GetTensorDataAsSpan<float>().ToArray(), Is.EqualTo(inMemory[i]).Within(1e-4f), $"{images[i]}: export vs zip");
        }
    }

    [Test]
    public void Selection_ScoresEveryCandidateOnValidation_AndKeepsTheBest()
    {
        var log = new List<string>();
        using var model = TransferLearner.Train(_data.Root, Options("mobilenet-v2,mobilenet-v1-0.75-192,tta:mobilenet-v2") with { Log = log.Add });
        var candidates = model.Report.BackboneCandidates;
        Assert.That(candidates.Select(c => c.Backbone), Is.EqualTo(new[] { "mobilenet-v2", "mobilenet-v1-0.75-192", "tta:mobilenet-v2" }));
        Assert.That(candidates.Count(c => c.Chosen), Is.EqualTo(1));
        var chosen = candidates.Single(c => c.Chosen);
        Assert.That(chosen.Score, Is.EqualTo(candidates.Max(c => c.Score)));
        Assert.That(candidates.Select(c => c.ScoredOn), Is.All.Contains("training and validation images"), "with a test split, the choice is made on training and validation images, never test");
        Assert.That(model.Metadata.Backbone.Name, Is.EqualTo(chosen.Backbone));
        Assert.That(model.Report.BackboneReason, Does.Contain(chosen.Backbone).And.Contain("highest").Or.Contain("only candidate"));
        Assert.That(candidates.All(c => c.ModelBytes > 1_000_000 && c.PredictMilliseconds > 0 && c.ImagesPerSecond > 0 && c.FeatureSize > 0));
    }

    [Test]
    public void Selection_WhenValidationIsTheHeldOutSet_ChoosesByCrossValidationOnTrain()
    {
        using var given = new TempDataset();
        foreach (var (label, i, file) in RealBackboneRuns.FlowerClasses.Take(3)
                     .SelectMany(l => Directory.GetFiles(Path.Combine(_data.Root, l)).Order(StringComparer.Ordinal).Select((f, i) => (l, i, f))))
            given.CopyShared(Path.GetRelativePath(TempDataset.SharedDatasets, Path.Combine(TempDataset.SharedDatasets, "flowers", label, Path.GetFileName(file))),
                Path.Combine(i < 4 ? "train" : "val", label, Path.GetFileName(file)));
        using var model = TransferLearner.Train(given.Root, Options("mobilenet-v2,mobilenet-v1-0.75-192"));
        Assert.That(model.Report.Test, Is.Null);
        Assert.That(model.Report.BackboneCandidates.Select(c => c.ScoredOn), Is.All.Contains("cross-validation"),
            "validation is what the model is reported on, so it must not choose the backbone");
    }

    [Test]
    public void FineTuning_RefusesACombination_WithAOneLineReason()
    {
        var e = Assert.Throws<MLTransferException>(() => MLTransfer.FineTuning.FineTuner.Run(_data.Root, new() { Transfer = Options("tta:mobilenet-v2") }))!;
        Assert.That(e.Message, Does.Contain("combination").And.Not.Contain('\n'));
    }
}
