using System.Runtime.Versioning;
using MLTransfer.Inference;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Training;
using NUnit.Framework;

namespace MLTransfer.Tests.Robustness;

/// <summary>
/// Where a run writes, and what it does with a file it may not read.
/// </summary>
[NonParallelizable]
public class LeakageAndPermissionTests
{
    private static string[] Listing(string dir) =>
        !Directory.Exists(dir) ? [] :
        Directory.EnumerateFileSystemEntries(dir, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
            .Select(p => $"{p}|{(File.Exists(p) ? new FileInfo(p).Length : -1)}")
            .Order(StringComparer.Ordinal).ToArray();

    [Test]
    public void TrainingAndPrediction_WriteOnlyIntoTheWorkspaceAndOutputFolders()
    {
        using var data = new TempDataset();
        foreach (var cls in new[] { "daisy", "roses" })
            foreach (var f in Directory.GetFiles(TestPaths.SharedDataset("flowers") + "/" + cls).Order(StringComparer.Ordinal).Take(5))
                data.CopyShared($"flowers/{cls}/{Path.GetFileName(f)}", $"{cls}/{Path.GetFileName(f)}");
        var work = Path.Combine(Path.GetTempPath(), "mltransfer-tests", "leak-" + Guid.NewGuid().ToString("N"));
        var privateTemp = Path.Combine(work, "tmp");
        Directory.CreateDirectory(privateTemp);
        var models = Path.GetDirectoryName(TestPaths.SharedModel("mobilenet_v1_0.75_192.onnx"))!;
        var userCache = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "mltransfer");
        var watched = new[] { data.Root, models, userCache, Environment.CurrentDirectory, TestContext.CurrentContext.TestDirectory }.Distinct().ToArray();
        var before = watched.ToDictionary(d => d, Listing);
        // Temporary files (the backbone copy ML.NET reads, ML.NET's own unpacking of the zip) go to the temp
        // folder; pointing it at a private folder lets the test see them and check they are cleaned up.
        var savedTmp = Environment.GetEnvironmentVariable("TMPDIR");
        Environment.SetEnvironmentVariable("TMPDIR", privateTemp);
        try
        {
            var output = Path.Combine(work, "out", "model.zip");
            using (var model = TransferLearner.Train(data.Root, new TransferLearningOptions
            {
                Backbone = new() { Name = "mobilenet-v1-0.75-192", Dirs = [models], AllowDownload = false },
                Cache = new() { WorkspacePath = Path.Combine(work, "workspace") },
                ValidationFraction = 0.2,
                TestFraction = 0.2,
            }))
            {
                model.Save(output);
            }
            using (var classifier = ImageClassifier.Load(output))
                classifier.Predict(Directory.GetFiles(data.PathOf("daisy"))[0]);

            foreach (var d in watched)
                Assert.That(Listing(d), Is.EqualTo(before[d]), $"nothing written under {d}");
            Assert.That(Directory.GetFileSystemEntries(Path.Combine(work, "out")).Select(Path.GetFileName), Is.EqualTo(new[] { "model.zip" }));
            Assert.That(Listing(privateTemp), Is.Empty, "temporary files removed");
        }
        finally
        {
            Environment.SetEnvironmentVariable("TMPDIR", savedTmp);
            try { Directory.Delete(work, true); } catch (IOException) { }
        }
    }

    [Test, UnsupportedOSPlatform("windows")]
    public void UnreadableFile_IsSkippedAndReported_WhenRunAsAnUnprivilegedUser()
    {
        // Tests run as root, and root reads a chmod 000 file anyway, so the check runs the real CLI as the
        // unprivileged user 'nobody' (setpriv), for whom the permission bits do apply.
        if (!OperatingSystem.IsLinux() || !File.Exists("/usr/bin/setpriv"))
            Assert.Ignore("needs Linux and setpriv to drop root; as root, file permissions do not block reads");
        var work = Path.Combine("/tmp", "mltransfer-perm-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(work);
        try
        {
            var data = Path.Combine(work, "data");
            foreach (var cls in new[] { "daisy", "roses" })
            {
                Directory.CreateDirectory(Path.Combine(data, cls));
                foreach (var f in Directory.GetFiles(TestPaths.SharedDataset("flowers") + "/" + cls).Order(StringComparer.Ordinal).Take(5))
                    File.Copy(f, Path.Combine(data, cls, Path.GetFileName(f)));
            }
            var locked = Path.Combine(data, "roses", "locked.jpg");
            File.Copy(Directory.GetFiles(Path.Combine(data, "daisy"))[0], locked);
            File.SetUnixFileMode(locked, UnixFileMode.None);
            var home = Path.Combine(work, "home");
            Directory.CreateDirectory(home);
            File.SetUnixFileMode(work, (UnixFileMode)0b111_111_111);
            File.SetUnixFileMode(home, (UnixFileMode)0b111_111_111);

            var r = CliRunner.Run(["train", "--data", data, "--backbone", "mobilenet-v1-0.75-192",
                    "--backbone-dir", Path.GetDirectoryName(TestPaths.SharedModel("mobilenet_v1_0.75_192.onnx"))!, "--offline",
                    "--workspace", Path.Combine(home, "ws"), "--output", Path.Combine(home, "model.zip"), "--quiet",
                    "--validation-fraction", "0.2", "--test-fraction", "0.2"],
                environment: CliRunner.Isolated(home), wrapper: ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]);
            TestContext.Out.WriteLine(r);
            if (r.ExitCode != 0 && r.StdErr.Contains("Permission denied") && !r.StdErr.Contains("locked.jpg"))
                Assert.Ignore("the unprivileged user cannot run dotnet or read the test binaries here: " + r.StdErr);
            Assert.That(r.ExitCode, Is.EqualTo(0), r.ToString());
            Assert.That(r.StdOut, Does.Contain($"{locked}: cannot read file"));
            Assert.That(File.Exists(Path.Combine(home, "model.zip")), Is.True);
        }
        finally
        {
            try { Directory.Delete(work, true); } catch (IOException) { }
        }
    }
}
