using MLTransfer.Tests.Fixtures;
using NUnit.Framework;

namespace MLTransfer.Tests.Cli;

/// <summary>The command line as a user meets it: exit codes, one-line errors, JSON output.</summary>
[TestFixture, NonParallelizable]
public class CliTests
{
    [Test]
    public void NoCommand_IsAUsageError()
    {
        var r = CliRunner.Run([]);
        Assert.That(r.ExitCode, Is.EqualTo(2));
    }

    [Test]
    public void MissingRequiredOption_IsAUsageError()
    {
        var r = CliRunner.Run(["train"]);
        Assert.That(r.ExitCode, Is.EqualTo(2));
        Assert.That(r.StdErr + r.StdOut, Does.Contain("--data"));
    }

    [Test]
    public void MissingDataFolder_FailsWithOneLineReason()
    {
        var r = CliRunner.Run(["train", "--data", "/nonexistent/photos", "--backbone-dir", Path.Combine(TestPaths.SharedDir, "models")]);
        Assert.That(r.ExitCode, Is.EqualTo(1));
        var errors = r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("error:")).ToList();
        Assert.That(errors, Has.Count.EqualTo(1));
        Assert.That(errors[0], Does.Contain("/nonexistent/photos"));
        Assert.That(r.StdErr, Does.Not.Contain("   at "), "no stack trace");
    }

    [Test]
    public void Train_WhileAnotherRunHoldsTheCache_WaitsThenSaysWhatToDo()
    {
        var dir = Directory.CreateTempSubdirectory("mlt-cli-wait-").FullName;
        try
        {
            var data = Path.Combine(dir, "data");
            TinyImages.WriteClass(Path.Combine(data, "red"), "red", 0, 6);
            TinyImages.WriteClass(Path.Combine(data, "blue"), "blue", 1, 6);
            var backbone = TinyImages.WriteBackbone(Path.Combine(dir, "backbone"));
            var workspace = Path.Combine(dir, "ws");
            string[] Args(params string[] extra) =>
                ["train", "--data", data, "--backbone", backbone, "--input-size", "32", "--offline", "--workspace", workspace, "--output", Path.Combine(dir, "m.zip"), .. extra];
            var first = CliRunner.Run(Args());
            Assert.That(first.ExitCode, Is.Zero, first.ToString());
            var cacheFile = Directory.GetFiles(Path.Combine(workspace, "features"), "features.bin", SearchOption.AllDirectories).Single();

            CliRunner.Result second;
            using (MLTransfer.Features.FeatureCache.Open(cacheFile, 8))
                second = CliRunner.Run(Args("--cache-wait", "1"));

            Assert.That(second.ExitCode, Is.EqualTo(1), second.ToString());
            Assert.That(second.StdErr, Does.Contain($"waiting for another run to release the feature cache {cacheFile}"));
            var error = second.StdErr.Split('\n').Single(l => l.StartsWith("error:"));
            Assert.That(error, Does.Contain("still in use by another run after waiting 1 s").And.Contain("--workspace"));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Test]
    public void TrainPredictEvaluate_OnTheBundledSamples()
    {
        var dir = Directory.CreateTempSubdirectory("mlt-cli-").FullName;
        try
        {
            var zip = Path.Combine(dir, "samples.zip");
            var samples = Path.Combine(TestPaths.RepoRoot, "data-samples");
            var train = CliRunner.Run(["train", "--data", samples, "--output", zip, "--workspace", Path.Combine(dir, "ws")],
                environment: new Dictionary<string, string> { ["MLTRANSFER_BACKBONE_DIR"] = Path.Combine(TestPaths.SharedDir, "models") });
            Assert.That(train.ExitCode, Is.EqualTo(0), train.StdErr);
            Assert.That(train.StdOut, Does.Contain("Backbone: mobilenet-v2"), "default backbone");
            Assert.That(train.StdErr, Does.Contain("mobilenet-v2: first catalog entry found locally"), "and why, in the log");
            Assert.That(train.StdErr, Does.Contain("extracted 140 images"), "the extraction's summary line");
            var retrain = CliRunner.Run(["train", "--data", samples, "--output", zip, "--workspace", Path.Combine(dir, "ws"), "--json", "--seed", "7"],
                environment: new Dictionary<string, string> { ["MLTRANSFER_BACKBONE_DIR"] = Path.Combine(TestPaths.SharedDir, "models") });
            Assert.That(retrain.ExitCode, Is.EqualTo(0), retrain.StdErr);
            using (var doc = System.Text.Json.JsonDocument.Parse(retrain.StdOut))
            {
                var report = doc.RootElement.GetProperty("report");
                Assert.That(report.GetProperty("backbone").GetString(), Is.EqualTo("mobilenet-v2"));
                Assert.That(report.GetProperty("imagesFromCache").GetInt32(), Is.EqualTo(140), "a retrain reads every feature from the cache");
                Assert.That(report.GetProperty("test").GetProperty("accuracy").GetDouble(), Is.GreaterThan(0.5));
            }
            Assert.That(File.Exists(Path.ChangeExtension(zip, ".metrics.json")));
            Assert.That(train.StdErr.Contains('\u001b'), Is.False, "redirected progress has no escape codes");
            Assert.That(train.StdErr.Contains('\r'), Is.False, "redirected progress has no carriage returns");

            var bird = Directory.GetFiles(Path.Combine(samples, "birds")).Order(StringComparer.Ordinal).First();
            var notAnImage = Path.Combine(dir, "notes.jpg");
            File.WriteAllText(notAnImage, "not a picture");
            var predict = CliRunner.Run(["predict", "--model", zip, bird, notAnImage]);
            Assert.That(predict.ExitCode, Is.EqualTo(1), "one image failed");
            Assert.That(predict.StdOut, Does.Contain(bird));
            Assert.That(predict.StdErr, Does.Contain("notes.jpg").And.Contain("not a supported image"));

            var onnx = Path.Combine(dir, "samples.onnx");
            var export = CliRunner.Run(["export", "--model", zip, "--onnx", onnx, "--json"]);
            Assert.That(export.ExitCode, Is.EqualTo(0), export.StdErr);
            Assert.That(new FileInfo(onnx).Length, Is.GreaterThan(1_000_000), "the fused model holds the backbone weights");

            var evaluate = CliRunner.Run(["evaluate", "--model", zip, "--data", samples, "--json"]);
            Assert.That(evaluate.ExitCode, Is.EqualTo(0), evaluate.StdErr);
            using var eval = System.Text.Json.JsonDocument.Parse(evaluate.StdOut);
            Assert.That(eval.RootElement.GetProperty("metrics").GetProperty("count").GetInt32(), Is.EqualTo(140));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Test]
    public void BackbonesListAndInspect_WorkOnTheSharedModels()
    {
        var env = new Dictionary<string, string> { ["MLTRANSFER_BACKBONE_DIR"] = Path.Combine(TestPaths.SharedDir, "models") };
        var list = CliRunner.Run(["backbones", "list"], environment: env);
        Assert.That(list.ExitCode, Is.EqualTo(0), list.StdErr);
        Assert.That(list.StdOut, Does.Match(@"mobilenet-v2\s+14\.0 MB\s+224x224\s+1280\s+yes"));
        var inspect = CliRunner.Run(["backbones", "inspect", "mobilenet-v2"], environment: env);
        Assert.That(inspect.ExitCode, Is.EqualTo(0), inspect.StdErr);
        Assert.That(inspect.StdOut, Does.Contain("'features' (1280 features, input of Gemm 'classifier')"));
        var verify = CliRunner.Run(["backbones", "verify"], environment: env);
        Assert.That(verify.ExitCode, Is.EqualTo(0), verify.StdErr);
        Assert.That(verify.StdOut, Does.Contain("Ok").And.Contain("mobilenet-v1-0.75-192"));
    }
}
