using System.Diagnostics;
using MLTransfer.FeatureStore;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;

namespace MLTransfer.Tests.FeatureStore;

/// <summary>The Slurm scripts of deploy/ run as a Slurm array would run them: three tasks numbered from 1, then training.</summary>
[TestFixture, NonParallelizable]
public class DeployScriptTests
{
    [Test]
    public void SlurmArrayScripts_ExtractEveryShard_ThenTrain()
    {
        var root = Directory.CreateTempSubdirectory("mlt-slurm-").FullName;
        try
        {
            var features = Path.Combine(root, "features");
            var model = Path.Combine(root, "samples.zip");
            var cli = $"dotnet {CliRunner.CliDll}";
            var common = new Dictionary<string, string>
            {
                ["DATA"] = Path.Combine(TestPaths.RepoRoot, "data-samples"),
                ["FEATURES"] = features,
                ["MODEL"] = model,
                ["MLTRANSFER"] = cli,
                ["MLTRANSFER_BACKBONE_DIR"] = Path.Combine(TestPaths.SharedDir, "models"),
                ["SLURM_ARRAY_TASK_MIN"] = "1",
                ["SLURM_ARRAY_TASK_COUNT"] = "3",
            };
            foreach (var task in new[] { "1", "2", "3" })
            {
                var r = Bash("extract.sbatch", new Dictionary<string, string>(common) { ["SLURM_ARRAY_TASK_ID"] = task });
                Assert.That(r.ExitCode, Is.Zero, r.Output);
            }
            var manifest = FeatureManifest.Read(features)!;
            Assert.That(manifest.Shards.Select(s => s.Index), Is.EqualTo(new[] { 0, 1, 2 }));
            var train = Bash("train.sbatch", common);
            Assert.That(train.ExitCode, Is.Zero, train.Output);
            Assert.That(File.Exists(model));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static (int ExitCode, string Output) Bash(string script, IDictionary<string, string> environment)
    {
        var start = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(TestPaths.RepoRoot, "deploy", "slurm", script));
        foreach (var (k, v) in environment)
            start.Environment[k] = v;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(4)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{script} did not finish in time");
        }
        return (process.ExitCode, output.Result + error.Result);
    }
}
