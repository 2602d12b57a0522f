using MLTransfer.Tests.Fixtures;
using MLTransfer.Training;
using NUnit.Framework;

namespace MLTransfer.Tests.Robustness;

/// <summary>
/// A backbone file that is corrupted, swapped for another model, of the wrong input size or not a
/// classifier is refused with a clear message before any feature is extracted — through the library
/// and through the CLI.
/// </summary>
[NonParallelizable]
public class BackboneFaultTests
{
    private TempDataset _data = null!;
    private string _work = null!;

    [SetUp]
    public void SetUp()
    {
        _data = new TempDataset();
        foreach (var cls in new[] { "daisy", "roses" })
            foreach (var f in Directory.GetFiles(TestPaths.SharedDataset("flowers") + "/" + cls).Order(StringComparer.Ordinal).Take(4))
                _data.CopyShared($"flowers/{cls}/{Path.GetFileName(f)}", $"{cls}/{Path.GetFileName(f)}");
        _work = Path.Combine(Path.GetTempPath(), "mltransfer-tests", "bb-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_work);
    }

    [TearDown]
    public void TearDown()
    {
        _data.Dispose();
        try { Directory.Delete(_work, true); } catch (IOException) { }
    }

    private string Workspace => Path.Combine(_work, "workspace");

    /// <summary>An offline folder holding <paramref name="bytes"/> under the v1 backbone's file name.</summary>
    private string OfflineDirWith(byte[] bytes)
    {
        var dir = Path.Combine(_work, "offline");
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, "mobilenet_v1_0.75_192.onnx"), bytes);
        return dir;
    }

    private TransferLearningOptions Options(string? backbone, string? offline = null) => new()
    {
        Backbone = new() { Name = backbone, Dirs = offline is null ? [] : [offline], AllowDownload = false },
        Cache = new() { WorkspacePath = Workspace },
        ValidationFraction = 0.25,
        TestFraction = 0.25,
    };

    private void AssertNoWorkDone() =>
        Assert.That(Directory.Exists(Path.Combine(Workspace, "features")), Is.False, "no feature was extracted");

    [Test]
    public void CorruptedBackbone_FailsTheChecksum()
    {
        var bytes = File.ReadAllBytes(TestPaths.SharedModel("mobilenet_v1_0.75_192.onnx"));
        bytes[bytes.Length / 2] ^= 0xFF;
        var offline = OfflineDirWith(bytes);
        var e = Assert.Throws<global::MLTransfer.Backbones.Store.BackboneIntegrityException>(() => TransferLearner.Train(_data.Root, Options("mobilenet-v1-0.75-192", offline)))!;
        TestContext.Out.WriteLine(e.Message);
        Assert.That(e.Message, Does.Contain("SHA-256").Or.Contain("checksum"));
        Assert.That(e.Message, Does.Contain(Path.Combine(offline, "mobilenet_v1_0.75_192.onnx")));
        AssertNoWorkDone();
    }

    [Test]
    public void SwappedBackbone_FailsTheChecksum()
    {
        // The v2 model saved under the v1 file name: a valid ONNX classifier, but not the one the catalog describes.
        var offline = OfflineDirWith(File.ReadAllBytes(TestPaths.SharedModel("mobilenet_v2_1.0_224.onnx")));
        var e = Assert.Throws<global::MLTransfer.Backbones.Store.BackboneIntegrityException>(() => TransferLearner.Train(_data.Root, Options("mobilenet-v1-0.75-192", offline)))!;
        TestContext.Out.WriteLine(e.Message);
        Assert.That(e.Fix, Is.Not.Null.And.Not.Empty);
        AssertNoWorkDone();
    }

    [Test]
    public void WrongInputShape_IsRefusedByPrepare()
    {
        var file = Path.Combine(_work, "tiny.onnx");
        File.WriteAllBytes(file, OnnxFixtures.Bytes(OnnxFixtures.TinyResNet(size: 32)));
        var options = Options(file) with { Backbone = Options(file).Backbone with { Adjust = d => d with { InputWidth = 64, InputHeight = 64 } } };
        var e = Assert.Throws<MLTransferException>(() => TransferLearner.Train(_data.Root, options))!;
        TestContext.Out.WriteLine(e.Message);
        Assert.That(e.Message, Does.Contain("32").And.Contain("64"));
        AssertNoWorkDone();
    }

    [Test]
    public void GraphWithoutAClassifier_IsRefused()
    {
        var file = Path.Combine(_work, "no-head.onnx");
        File.WriteAllBytes(file, OnnxFixtures.Bytes(OnnxFixtures.NoClassifier()));
        var options = Options(file) with { Backbone = Options(file).Backbone with { Adjust = d => d with { InputWidth = 32, InputHeight = 32 } } };
        var e = Assert.Throws<MLTransferException>(() => TransferLearner.Train(_data.Root, options))!;
        TestContext.Out.WriteLine(e.Message);
        Assert.That(e.Message, Does.Contain("classifier").IgnoreCase);
        AssertNoWorkDone();
    }

    [Test]
    public void TruncatedCustomBackbone_IsRefusedNotCrashed()
    {
        var bytes = OnnxFixtures.Bytes(OnnxFixtures.TinyResNet());
        var file = Path.Combine(_work, "cut.onnx");
        File.WriteAllBytes(file, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<MLTransferException>(() => TransferLearner.Train(_data.Root, Options(file)))!;
        TestContext.Out.WriteLine(e.Message);
        Assert.That(e.Message, Does.Contain("cut.onnx"));
        AssertNoWorkDone();
    }

    [Test]
    public void Cli_CorruptedBackbone_ExitsWithOneClearErrorAndWritesNoModel()
    {
        var bytes = File.ReadAllBytes(TestPaths.SharedModel("mobilenet_v1_0.75_192.onnx"));
        bytes[1000] ^= 0x55;
        var offline = OfflineDirWith(bytes);
        var output = Path.Combine(_work, "out", "model.zip");
        var r = CliRunner.Run(["train", "--data", _data.Root, "--backbone", "mobilenet-v1-0.75-192", "--backbone-dir", offline,
            "--offline", "--workspace", Workspace, "--output", output], environment: CliRunner.Isolated(Path.Combine(_work, "home")));
        TestContext.Out.WriteLine(r);
        Assert.That(r.ExitCode, Is.EqualTo(1), r.ToString());
        Assert.That(r.StdErr, Does.Contain("error:").And.Contain("mobilenet_v1_0.75_192.onnx"));
        Assert.That(r.StdErr, Does.Not.Contain("   at "), "no stack trace");
        Assert.That(File.Exists(output), Is.False);
        AssertNoWorkDone();
    }

    [Test]
    public void Cli_NonClassifierGraph_ExitsWithOneClearError()
    {
        var file = Path.Combine(_work, "no-head.onnx");
        File.WriteAllBytes(file, OnnxFixtures.Bytes(OnnxFixtures.NoClassifier()));
        var r = CliRunner.Run(["train", "--data", _data.Root, "--backbone", file, "--input-size", "32", "--offline", "--workspace", Workspace,
            "--output", Path.Combine(_work, "out", "model.zip")], environment: CliRunner.Isolated(Path.Combine(_work, "home")));
        Assert.That(r.ExitCode, Is.EqualTo(1), r.ToString());
        Assert.That(r.StdErr, Does.Contain("error:").And.Contain("no-head.onnx").And.Contain("classifier").IgnoreCase);
        Assert.That(r.StdErr, Does.Not.Contain("   at "), "no stack trace");
        AssertNoWorkDone();
    }
}
