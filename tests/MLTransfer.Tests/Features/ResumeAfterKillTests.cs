using System.Diagnostics;
using System.Text.Json;
using MLTransfer.Backbones;
using MLTransfer.Cli.Benchmarks;
using MLTransfer.Data;
using MLTransfer.Features;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;

namespace MLTransfer.Tests.Features;

/// <summary>
/// kill -9 in the middle of feature extraction loses at most the batch being written: the rerun extracts
/// exactly the images the cache does not hold, and every record in the cache is intact.
/// </summary>
[TestFixture, NonParallelizable]
public class ResumeAfterKillTests
{
    private const int RecordSize = 32 + 1280 * sizeof(float) + 8;

    [Test]
    public void KilledTraining_ResumesWithOnlyTheMissingImages()
    {
        var root = Directory.CreateTempSubdirectory("mlt-resume-").FullName;
        try
        {
            var data = Path.Combine(root, "data");
            var workspace = Path.Combine(root, "ws");
            var images = SyntheticImages.Write([TestPaths.SharedDataset("flowers")], data, copies: 1, seed: 11, maxPerClass: 80);
            Assert.That(images, Has.Count.EqualTo(400));
            var backbone = TestPaths.SharedModel("mobilenet_v2_1.0_224.onnx");
            string[] Args(params string[] extra) =>
                ["train", "--data", data, "--backbone", backbone, "--offline", "--workspace", workspace, "--output", Path.Combine(root, "model.zip"), "--batch-size", "8", .. extra];

            // First run: killed (SIGKILL, no chance to clean up) once a few batches are on disk.
            using (var first = Start(Args("--quiet")))
            {
                var clock = Stopwatch.StartNew();
                string? cacheFile = null;
                while (clock.Elapsed < TimeSpan.FromSeconds(60) && !first.HasExited)
                {
                    cacheFile ??= Directory.Exists(Path.Combine(workspace, "features"))
                        ? Directory.GetFiles(Path.Combine(workspace, "features"), "features.bin", SearchOption.AllDirectories).FirstOrDefault()
                        : null;
                    if (cacheFile is not null && new FileInfo(cacheFile).Length > 16 + 3 * 8 * RecordSize)
                        break;
                    Thread.Sleep(5);
                }
                Assert.That(first.HasExited, Is.False, "the first run finished before it could be killed; the test proves nothing");
                first.Kill();
                first.WaitForExit();
            }

            var cachePath = Directory.GetFiles(Path.Combine(workspace, "features"), "features.bin", SearchOption.AllDirectories).Single();
            int cached;
            using (var cache = FeatureCache.Open(cachePath, 1280))
                cached = cache.Count;
            Assert.That(cached, Is.GreaterThan(0).And.LessThan(400));

            // Second run: resumes.
            var second = CliRunner.Run(Args("--json"), TimeSpan.FromMinutes(2));
            Assert.That(second.ExitCode, Is.Zero, second.StdErr);
            var report = JsonDocument.Parse(second.StdOut).RootElement.GetProperty("report");
            Assert.That(report.GetProperty("imagesExtracted").GetInt32(), Is.EqualTo(400 - cached));
            Assert.That(report.GetProperty("imagesFromCache").GetInt32(), Is.EqualTo(cached));

            // Nothing corrupt: every record verifies, and cached features equal a fresh extraction.
            using var final = FeatureCache.Open(cachePath, 1280);
            Assert.That(final.Count, Is.EqualTo(400));
            Assert.That(final.TornTailBytes, Is.Zero);
            Assert.That(final.CorruptRecordsDropped, Is.Zero);
            var resolved = BackboneResolver.Resolve(backbone, allowDownload: false);
            using var session = new BackboneSession(BackboneGraph.Prepare(resolved.FilePath, resolved.Description));
            var sample = images.Where((_, i) => i % 50 == 0).ToList();
            var fresh = FeatureExtractor.Extract(sample, session);
            foreach (var path in sample)
                Assert.That(final.TryGet(ContentHasher.Sha256Of(path)), Is.EqualTo(fresh.ByName[path]).Within(1e-5f), path);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static Process Start(IEnumerable<string> args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = TestContext.CurrentContext.TestDirectory };
        start.ArgumentList.Add(CliRunner.CliDll);
        foreach (var a in args)
            start.ArgumentList.Add(a);
        var process = Process.Start(start)!;
        // Drain the pipes so a chatty child never blocks on a full buffer.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }
}
