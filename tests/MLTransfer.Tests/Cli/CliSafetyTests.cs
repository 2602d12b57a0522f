using System.Diagnostics;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Tests.Service;
using NUnit.Framework;

namespace MLTransfer.Tests.Cli;

/// <summary>
/// Issue 17 from the command line: outputs never land on inputs, bad flags are one usage line (exit 2),
/// special files neither hang nor exhaust memory, Ctrl-C/SIGTERM stop cleanly, and killed runs' temporary
/// files are swept by the next run.
/// </summary>
[TestFixture, NonParallelizable]
public class CliSafetyTests
{
    private string _dir = "";
    private string _data = "";
    private string _models = "";

    [OneTimeSetUp]
    public void SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("mlt-cli-safety-").FullName;
        _data = Path.Combine(_dir, "data");
        foreach (var file in Directory.GetFiles(ServiceModels.SamplesDir, "*.jpg", SearchOption.AllDirectories))
        {
            var target = Path.Combine(_data, Path.GetRelativePath(ServiceModels.SamplesDir, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
        _models = Path.Combine(TestPaths.SharedDir, "models");
    }

    [OneTimeTearDown]
    public void TearDown() => Directory.Delete(_dir, true);

    private CliRunner.Result Train(params string[] extra) =>
        CliRunner.Run(["train", "--data", _data, "--backbone-dir", _models, "--backbone", "mobilenet-v1-0.75-192", "--workspace", Path.Combine(_dir, "ws"), .. extra]);

    private static void AssertOneLineError(CliRunner.Result r, int exitCode, string contains)
    {
        Assert.That(r.ExitCode, Is.EqualTo(exitCode), r.ToString());
        var errors = r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => l.StartsWith("error:", StringComparison.Ordinal)).ToList();
        Assert.That(errors, Has.Count.EqualTo(1), r.ToString());
        Assert.That(errors[0], Does.Contain(contains));
        Assert.That(r.StdErr + r.StdOut, Does.Not.Contain("   at ").And.Not.Contain("System.Int32").And.Not.Contain("Exception"), "no stack trace or .NET type names");
        Assert.That(r.StdOut, Does.Not.Contain("Options:"), "no help dump");
    }

    [Test]
    public void Train_OutputOntoATrainingPhoto_IsRefused_AndThePhotoIsUntouched()
    {
        var photo = Directory.GetFiles(Path.Combine(_data, "fruit")).Order(StringComparer.Ordinal).First();
        var before = File.ReadAllBytes(photo);
        var r = Train("-o", photo);
        AssertOneLineError(r, 1, "inside the data folder");
        Assert.That(File.ReadAllBytes(photo), Is.EqualTo(before));
        Assert.That(Directory.GetFiles(Path.Combine(_data, "fruit"), "*.json"), Is.Empty, "no metrics file in the class folder");
        Assert.That(r.StdErr, Does.Not.Contain("features:"), "refused before any extraction");
    }

    [Test]
    public void Train_OutputIntoTheDataFolderOrOntoIt_IsRefused()
    {
        AssertOneLineError(Train("-o", Path.Combine(_data, "model.zip")), 1, "inside the data folder");
        AssertOneLineError(Train("-o", _data), 1, "is a folder");
        // A link elsewhere that points into the data folder is the same place.
        var link = Path.Combine(_dir, "link-to-fruit");
        if (!Directory.Exists(link))
            Directory.CreateSymbolicLink(link, Path.Combine(_data, "fruit"));
        AssertOneLineError(Train("-o", Path.Combine(link, "model.zip")), 1, "inside the data folder");
    }

    [Test]
    public void Train_OutputOntoTheManifestOrAListedImage_IsRefused()
    {
        var root = Path.Combine(_dir, "manifest-set");
        Directory.CreateDirectory(root);
        var lines = new List<string> { "path,label" };
        foreach (var cls in new[] { "birds", "fruit" })
            foreach (var f in Directory.GetFiles(Path.Combine(_data, cls)).Order(StringComparer.Ordinal).Take(6))
            {
                var name = $"{cls}-{Path.GetFileName(f)}";
                File.Copy(f, Path.Combine(root, name), overwrite: true);
                lines.Add($"{name},{cls}");
            }
        var manifest = Path.Combine(root, "list.csv");
        File.WriteAllLines(manifest, lines);
        var text = File.ReadAllText(manifest);
        var r = CliRunner.Run(["train", "--data", manifest, "-o", manifest, "--backbone-dir", _models, "--workspace", Path.Combine(_dir, "ws")]);
        AssertOneLineError(r, 1, "overwrite an input");
        Assert.That(File.ReadAllText(manifest), Is.EqualTo(text));
        var image = Path.Combine(root, lines[1].Split(',')[0]);
        var bytes = File.ReadAllBytes(image);
        AssertOneLineError(CliRunner.Run(["train", "--data", manifest, "-o", image, "--backbone-dir", _models]), 1, "overwrite an input");
        Assert.That(File.ReadAllBytes(image), Is.EqualTo(bytes));
    }

    [Test]
    public void Train_OutputOntoTheBackboneFile_IsRefused()
    {
        var backbone = Path.Combine(_dir, "backbone-copy.onnx");
        File.Copy(Path.Combine(_models, "mobilenet_v1_0.75_192.onnx"), backbone, overwrite: true);
        var r = CliRunner.Run(["train", "--data", _data, "--backbone", backbone, "--input-size", "192", "--mean", "0.5,0.5,0.5", "--std", "0.5,0.5,0.5", "-o", backbone]);
        AssertOneLineError(r, 1, "overwrite an input");
        Assert.That(new FileInfo(backbone).Length, Is.EqualTo(new FileInfo(Path.Combine(_models, "mobilenet_v1_0.75_192.onnx")).Length));
    }

    [Test]
    public void Train_OverAForeignFile_NeedsForce_OverAModelItDoesNot()
    {
        var target = Path.Combine(_dir, "out", "notes.zip");
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        File.WriteAllText(target, "my notes, not a model");
        AssertOneLineError(Train("-o", target), 1, "not an MLTransfer model zip");
        Assert.That(File.ReadAllText(target), Is.EqualTo("my notes, not a model"));

        var forced = Train("-o", target, "--force");
        Assert.That(forced.ExitCode, Is.EqualTo(0), forced.ToString());
        var again = Train("-o", target);
        Assert.That(again.ExitCode, Is.EqualTo(0), "replacing an earlier model of ours needs no --force\n" + again);
    }

    [Test]
    public void Export_OntoTheModelBeingRead_IsRefused_AndTheModelIsIntact()
    {
        var model = Path.Combine(_dir, "export-source.zip");
        File.Copy(ServiceModels.First, model, overwrite: true);
        var before = File.ReadAllBytes(model);
        AssertOneLineError(CliRunner.Run(["export", "--model", model, "--onnx", model]), 1, "overwrite an input");
        Assert.That(File.ReadAllBytes(model), Is.EqualTo(before));
        var report = CliRunner.Run(["report", "--model", model, "--data", _data, "--out", Path.Combine(_data, "birds")]);
        AssertOneLineError(report, 1, "inside the data folder");
    }

    [TestCase("--batch-size", "100000", "--batch-size must be a whole number from 1 to 1024")]
    [TestCase("--batch-size", "0", "--batch-size must be a whole number from 1 to 1024")]
    [TestCase("--l2", "-1", "--l2 must be a number of 0 or more")]
    [TestCase("--l2", "NaN", "--l2 must be a number of 0 or more")]
    [TestCase("-o", "", "--output must not be empty")]
    [TestCase("--seed", "abc", "--seed must be a whole number, got 'abc'")]
    [TestCase("--test-fraction", "1.5", "--test-fraction must be a number from 0 up to")]
    public void Train_BadFlagValue_IsOneUsageLine(string flag, string value, string message)
    {
        var r = CliRunner.Run(["train", "--data", _data, flag, value]);
        AssertOneLineError(r, 2, message);
        Assert.That(r.StdErr, Does.Contain("--help"), "points to the help");
    }

    [Test]
    public void Predict_BadTopOrSpecialFiles_FailClearly_WithoutHangingOrReadingForever()
    {
        AssertOneLineError(CliRunner.Run(["predict", "-m", ServiceModels.First, "--top", "-5", "x.jpg"]), 2, "--top must be a whole number from 1");
        var fifo = Path.Combine(_dir, "pipe.jpg");
        if (!File.Exists(fifo))
            using (var mk = Process.Start("mkfifo", fifo)) mk.WaitForExit();
        // A folder is predicted image by image now (issue 15); one without images is the error.
        var noImages = Directory.CreateDirectory(Path.Combine(_dir, "no-images")).FullName;
        foreach (var (path, reason) in new[] { ("/dev/zero", "not a regular file"), (fifo, "not a regular file"), (noImages, "holds no image files") })
        {
            var clock = Stopwatch.StartNew();
            var r = CliRunner.Run(["predict", "-m", ServiceModels.First, path], timeout: TimeSpan.FromSeconds(60));
            AssertOneLineError(r, 1, reason);
            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(30)), path);
        }
    }

    [Test]
    public void Train_WorkspaceThatIsAFile_IsOneLine()
    {
        var file = Path.Combine(_dir, "a-file");
        File.WriteAllText(file, "x");
        var r = CliRunner.Run(["train", "--data", _data, "--backbone-dir", _models, "--workspace", file, "-o", Path.Combine(_dir, "ws-file.zip")]);
        AssertOneLineError(r, 1, "workspace path is a file");
    }

    [TestCase("INT", 130)]
    [TestCase("TERM", 143)]
    public void SignalDuringExtraction_StopsCleanly_SaysARerunContinues_AndTheRerunDoes(string signal, int exitCode)
    {
        var workspace = Path.Combine(_dir, $"ws-signal-{signal}");
        string[] args = ["train", "--data", TestPaths.SharedDataset("flowers"), "--backbone-dir", _models, "--backbone", "mobilenet-v2",
            "--workspace", workspace, "-o", Path.Combine(_dir, $"signal-{signal}.zip"), "--batch-size", "8"];
        // A shell starts background jobs with SIGINT ignored, and children inherit that: restore the default
        // disposition so the test means the same wherever the suite runs.
        var start = new ProcessStartInfo("env")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        start.ArgumentList.Add("--default-signal=INT");
        start.ArgumentList.Add(File.Exists("/usr/share/dotnet/dotnet") ? "/usr/share/dotnet/dotnet" : "dotnet");
        start.ArgumentList.Add(CliRunner.CliDll);
        foreach (var a in args)
            start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = new System.Text.StringBuilder();
        var signalled = false;
        string? line;
        while ((line = process.StandardError.ReadLine()) is not null)
        {
            stderr.AppendLine(line);
            // Redirected progress prints a line every tenth; the first one means extraction is under way.
            if (!signalled && line.StartsWith("features: ", StringComparison.Ordinal) && line.Contains("/600 images"))
            {
                using var kill = Process.Start("kill", [$"-{signal}", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
                kill.WaitForExit();
                signalled = true;
            }
        }
        Assert.That(process.WaitForExit(60_000), Is.True);
        Assert.That(signalled, Is.True, stderr.ToString());
        Assert.That(process.ExitCode, Is.EqualTo(exitCode), stderr.ToString());
        Assert.That(stderr.ToString(), Does.Contain("Cancelled; finished feature batches are cached and a rerun continues"));
        Assert.That(stderr.ToString(), Does.Not.Contain("   at "));
        Assert.That(File.Exists(Path.Combine(_dir, $"signal-{signal}.zip")), Is.False, "no model from a cancelled run");

        var rerun = CliRunner.Run([.. args, "--json"]);
        Assert.That(rerun.ExitCode, Is.EqualTo(0), rerun.ToString());
        using var doc = System.Text.Json.JsonDocument.Parse(rerun.StdOut);
        var fromCache = doc.RootElement.GetProperty("report").GetProperty("imagesFromCache").GetInt32();
        Assert.That(fromCache, Is.GreaterThan(0), "the batches finished before the signal were kept");
    }

    [Test]
    public void KilledRunsLeftovers_AreSweptByTheNextRun_LiveOnesAreNot()
    {
        // A process that has exited: its id names no running process, as after kill -9.
        using var gone = Process.Start("true")!;
        gone.WaitForExit();
        var deadTag = $"{gone.Id}-1";
        var output = Path.Combine(_dir, "sweep", "model.zip");
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        var staleSave = Path.Combine(Path.GetDirectoryName(output)!, $".model.zip.{deadTag}.{Guid.NewGuid():N}.tmp");
        File.WriteAllBytes(staleSave, new byte[1000]);
        var liveTag = global::MLTransfer.ProcessTemp.Tag;
        var liveSave = Path.Combine(Path.GetDirectoryName(output)!, $".model.zip.{liveTag}.{Guid.NewGuid():N}.tmp");
        File.WriteAllBytes(liveSave, new byte[1000]);
        var staleFolder = Path.Combine(global::MLTransfer.ProcessTemp.Root, deadTag);
        Directory.CreateDirectory(staleFolder);
        File.WriteAllBytes(Path.Combine(staleFolder, "abcd.onnx"), new byte[1000]);

        var r = Train("-o", output);
        Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
        Assert.That(File.Exists(staleSave), Is.False, "a dead run's half-written save is deleted");
        Assert.That(Directory.Exists(staleFolder), Is.False, "a dead run's ONNX copies are deleted");
        Assert.That(File.Exists(liveSave), Is.True, "a live process's save in progress is left alone");
        Assert.That(Directory.GetDirectories(global::MLTransfer.ProcessTemp.Root).Where(d => Path.GetFileName(d).StartsWith($"{gone.Id}-")), Is.Empty);
        File.Delete(liveSave);
    }
}
