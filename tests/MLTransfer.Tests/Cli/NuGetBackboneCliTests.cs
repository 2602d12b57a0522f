using MLTransfer.Inference;
using MLTransfer.Tests.Backbones.Store;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;

namespace MLTransfer.Tests.Cli;

/// <summary>
/// A fresh machine (no offline folder, empty cache) needs nothing but NuGet: the default backbone is ML.NET's ResNet-18
/// from the global packages folder, and the backbones commands handle it.
/// </summary>
[TestFixture, NonParallelizable]
public class NuGetBackboneCliTests
{
    private string _home = "";

    [SetUp]
    public void SetUp() => _home = Directory.CreateTempSubdirectory("mlt-fresh-home-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_home, true);

    /// <summary>An isolated user whose NuGet global packages folder is the machine's (where restore put the package).</summary>
    private Dictionary<string, string> FreshMachine()
    {
        var env = CliRunner.Isolated(_home);
        env["NUGET_PACKAGES"] = NuGetTestPackages.GlobalPackagesFolder;
        return env;
    }

    [Test]
    public void Train_WithNoBackboneFlags_UsesResNet18FromTheNuGetPackage_AndTheZipPredicts()
    {
        var zip = Path.Combine(_home, "samples.zip");
        var run = CliRunner.Run(["train", "--data", Path.Combine(TestPaths.RepoRoot, "data-samples"), "--output", zip], environment: FreshMachine(),
            workingDirectory: _home);

        Assert.That(run.ExitCode, Is.EqualTo(0), run.ToString());
        var route = $"resnet18: ML.NET's ResNet-18 from the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1 found in {NuGetTestPackages.GlobalPackagesFolder}";
        // Each fact once: the result names the backbone, the log says where it came from.
        Assert.That(run.StdOut, Does.Contain("Backbone: resnet18"));
        Assert.That(run.StdErr, Does.Contain(route));
        Assert.That(run.StdErr, Does.Contain("headless backbone, no classifier"));
        Assert.That(Directory.GetFiles(Path.Combine(_home, "mltransfer", "backbones")), Has.Some.Contains("resnet18-mlnet-0.23.1-"));

        using var classifier = ImageClassifier.Load(zip);
        Assert.That(classifier.Metadata.Backbone.Name, Is.EqualTo("resnet18"));
        Assert.That(classifier.Metadata.BackboneReason, Does.Contain(route));
        var bird = Directory.GetFiles(Path.Combine(TestPaths.RepoRoot, "data-samples", "birds")).Order(StringComparer.Ordinal).First();
        var prediction = classifier.Predict(bird);
        Assert.That(prediction.Probabilities.Sum(p => p.Probability), Is.EqualTo(1f).Within(1e-4f));
        Assert.That(classifier.ClassNames, Is.EqualTo(new[] { "birds", "bugs", "fruit", "music" }));
    }

    [Test]
    public void BackbonesPullListVerifyAndInspect_HandleTheNuGetBackbone()
    {
        var env = FreshMachine();
        var pull = CliRunner.Run(["backbones", "pull", "resnet18"], environment: env, workingDirectory: _home);
        Assert.That(pull.ExitCode, Is.EqualTo(0), pull.ToString());
        var cached = Directory.GetFiles(Path.Combine(_home, "mltransfer", "backbones"), "*.onnx").Single();
        Assert.That(pull.StdOut, Does.StartWith($"resnet18: {cached} (sha256 "));

        var list = CliRunner.Run(["backbones", "list"], environment: env, workingDirectory: _home);
        Assert.That(list.ExitCode, Is.EqualTo(0), list.ToString());
        Assert.That(list.StdOut, Does.Match($@"resnet18 +64\.3 MB +224x224 +512 +yes +yes \(Cache: {System.Text.RegularExpressions.Regex.Escape(cached)}\)"));
        Assert.That(list.StdOut, Does.Match(@"resnet50-v2 .* no, record only "));

        var verify = CliRunner.Run(["backbones", "verify"], environment: env, workingDirectory: _home);
        Assert.That(verify.ExitCode, Is.EqualTo(0), verify.ToString());
        Assert.That(verify.StdOut.Split('\n').Count(l => l.StartsWith("Ok") && l.Contains("resnet18")), Is.EqualTo(3), "the combined graph and the package's two files");

        var inspect = CliRunner.Run(["backbones", "inspect", "resnet18"], environment: env, workingDirectory: _home);
        Assert.That(inspect.ExitCode, Is.EqualTo(0), inspect.ToString());
        Assert.That(inspect.StdOut, Does.Contain("input      OriginalInput: float32 [N,3,224,224]"));
        Assert.That(inspect.StdOut, Does.Contain("features   'Pooling395_Output_0' (512 features, the graph's own output: headless backbone, no classifier, flattened)"));
        Assert.That(inspect.StdOut, Does.Contain("combined graph found in the cache folder"));
    }
}
