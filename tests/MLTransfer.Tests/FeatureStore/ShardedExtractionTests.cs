using System.Diagnostics;
using DuckDB.NET.Data;
using MLTransfer.FeatureStore;
using MLTransfer.Inference;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Training;
using NUnit.Framework;

namespace MLTransfer.Tests.FeatureStore;

/// <summary>
/// Issue 13's acceptance run on real photos: three extract tasks started as a Kubernetes Indexed Job starts
/// them (same command, JOB_COMPLETION_INDEX 0..2), one of them killed mid-run and started again; their
/// shards against a one-process extraction, training from them against training on the images, and DuckDB
/// reading them.
/// </summary>
[TestFixture, NonParallelizable]
public class ShardedExtractionTests
{
    private string _root = null!;
    private string _sharded = null!;
    private string _single = null!;
    private string _flowers = null!;
    private readonly Dictionary<string, (long Bytes, DateTime Written)> _beforeRestart = [];
    private CliRunner.Result _restart = null!;
    private CliRunner.Result _rerunFinished = null!;
    private long _killedAtCacheBytes;

    private static Dictionary<string, string> Environment(int index) => new()
    {
        ["JOB_COMPLETION_INDEX"] = index.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["MLTRANSFER_SHARD_COUNT"] = "3",
        ["MLTRANSFER_BACKBONE_DIR"] = Path.Combine(TestPaths.SharedDir, "models"),
    };

    private string[] ExtractArgs => ["extract", "--data", _flowers, "--features", _sharded, "--backbone", "mobilenet-v2", "--batch-size", "4"];

    [OneTimeSetUp]
    public void ExtractAsAnIndexedJob()
    {
        _flowers = TestPaths.SharedDataset("flowers");
        _root = Directory.CreateTempSubdirectory("mlt-shards-").FullName;
        _sharded = Path.Combine(_root, "sharded");
        _single = Path.Combine(_root, "single");

        var tasks = Enumerable.Range(0, 3).Select(i => ShardProcesses.Start(ExtractArgs, Environment(i))).ToList();
        // Shard 1 is killed (SIGKILL, as a node loss or an OOM kill would) once some batches are in its cache.
        var cacheFolder = Path.Combine(_sharded, "_work", "shard-00001-of-00003");
        var clock = Stopwatch.StartNew();
        while (!tasks[1].HasExited && clock.Elapsed < TimeSpan.FromMinutes(3))
        {
            var cache = Directory.Exists(cacheFolder) ? Directory.EnumerateFiles(cacheFolder, "features.bin", SearchOption.AllDirectories).FirstOrDefault() : null;
            if (cache is not null && new FileInfo(cache).Length > 16 + 12 * (32 + 1280 * 4 + 8))
            {
                _killedAtCacheBytes = new FileInfo(cache).Length;
                tasks[1].Kill();
                break;
            }
            Thread.Sleep(5);
        }
        Assert.That(_killedAtCacheBytes, Is.GreaterThan(0), "shard 1 finished before it could be killed");
        tasks[1].WaitForExit();
        Assert.That(ShardProcesses.Finish(tasks[0], TimeSpan.FromMinutes(4)).ExitCode, Is.Zero);
        Assert.That(ShardProcesses.Finish(tasks[2], TimeSpan.FromMinutes(4)).ExitCode, Is.Zero);
        Assert.That(File.Exists(Path.Combine(_sharded, "shard-00001-of-00003.parquet")), Is.False, "a killed task leaves no shard file");
        foreach (var f in Directory.EnumerateFiles(_sharded, "shard-*.parquet"))
            _beforeRestart[Path.GetFileName(f)] = (new FileInfo(f).Length, File.GetLastWriteTimeUtc(f));

        _restart = CliRunner.Run(ExtractArgs, environment: Environment(1));
        Assert.That(_restart.ExitCode, Is.Zero, _restart.ToString());
        _rerunFinished = CliRunner.Run(ExtractArgs, environment: Environment(0));
        Assert.That(_rerunFinished.ExitCode, Is.Zero, _rerunFinished.ToString());

        FeatureShards.Extract(_flowers, _single, new ShardExtractionOptions
        {
            Backbone = new() { Name = "mobilenet-v2", Dirs = [Path.Combine(TestPaths.SharedDir, "models")], AllowDownload = false },
        });
    }

    [OneTimeTearDown]
    public void Clean() => Directory.Delete(_root, recursive: true);

    private static Dictionary<string, (ShardKey Key, float[] Features)> ReadAll(string folder)
    {
        var store = StoredFeatures.Open(folder);
        return store.Stream(_ => true).ToDictionary(x => x.Key.Path, x => (x.Key, x.Features), StringComparer.Ordinal);
    }

    [Test]
    public void TheRestartedShard_ResumedFromItsCache_AndPrintedWhereItsIndexCameFrom()
    {
        Assert.That(_restart.StdErr, Does.Contain("shard: 1/3 from Kubernetes Indexed Job (JOB_COMPLETION_INDEX=1), count 3 from MLTRANSFER_SHARD_COUNT"));
        var resumed = System.Text.RegularExpressions.Regex.Match(_restart.StdOut, @"(\d+) extracted at \d+ images/s, (\d+) from the cache");
        Assert.That(resumed.Success, _restart.StdOut);
        Assert.That(int.Parse(resumed.Groups[2].Value), Is.GreaterThanOrEqualTo(12), "features extracted before the kill are not extracted again");
        Assert.That(int.Parse(resumed.Groups[1].Value) + int.Parse(resumed.Groups[2].Value), Is.EqualTo(178));
        Assert.That(Directory.Exists(Path.Combine(_sharded, "_work")), Is.False, "the resume cache is removed once every shard is written");
    }

    [Test]
    public void TheOtherShards_AreNotRedone()
    {
        Assert.That(_rerunFinished.StdOut, Does.Contain("Already complete"));
        foreach (var (file, (bytes, written)) in _beforeRestart)
        {
            var info = new FileInfo(Path.Combine(_sharded, file));
            Assert.That((info.Length, info.LastWriteTimeUtc), Is.EqualTo((bytes, written)), file);
        }
    }

    [Test]
    public void TheUnionOfTheShards_IsTheOneProcessExtraction_BitForBit()
    {
        var sharded = ReadAll(_sharded);
        var single = ReadAll(_single);
        Assert.That(sharded.Keys.Order(StringComparer.Ordinal), Is.EqualTo(single.Keys.Order(StringComparer.Ordinal)));
        Assert.That(sharded, Has.Count.EqualTo(600));
        foreach (var (path, (key, features)) in single)
        {
            Assert.That(sharded[path].Key, Is.EqualTo(key), path);
            Assert.That(System.Runtime.InteropServices.MemoryMarshal.AsBytes(sharded[path].Features.AsSpan()).SequenceEqual(
                System.Runtime.InteropServices.MemoryMarshal.AsBytes(features.AsSpan())), Is.True, path);
        }
        var manifest = FeatureManifest.Read(_sharded)!;
        Assert.That(manifest.Shards.Select(s => s.Rows).Sum(), Is.EqualTo(600));
        Assert.That(manifest.Shards.Select(s => s.Index), Is.EqualTo(new[] { 0, 1, 2 }));
    }

    [Test]
    public void TrainingFromTheShards_MatchesTrainingOnTheImages()
    {
        var workspace = Path.Combine(_root, "workspace");
        var options = new TransferLearningOptions
        {
            Seed = 7,
            Backbone = new() { Name = "mobilenet-v2", Dirs = [Path.Combine(TestPaths.SharedDir, "models")], AllowDownload = false },
            Cache = new() { WorkspacePath = workspace },
        };
        using var fromImages = TransferLearner.Train(_flowers, options);
        using var fromShards = TransferLearner.TrainFromFeatures(_sharded, options);
        Assert.That(fromShards.Report.ImagesExtracted, Is.Zero, "the backbone never runs");
        Assert.That(fromShards.Report.Counts, Is.EqualTo(fromImages.Report.Counts));
        Assert.That(fromShards.Report.Test!.Accuracy, Is.EqualTo(fromImages.Report.Test!.Accuracy));
        Assert.That(fromShards.Report.Test.LogLoss, Is.EqualTo(fromImages.Report.Test.LogLoss).Within(1e-9));
        Assert.That(fromShards.Report.Validation!.LogLoss, Is.EqualTo(fromImages.Report.Validation!.LogLoss).Within(1e-9));

        var (a, b) = (Path.Combine(_root, "images.zip"), Path.Combine(_root, "shards.zip"));
        fromImages.Save(a);
        fromShards.Save(b);
        using var imagesModel = ImageClassifier.Load(a);
        using var shardsModel = ImageClassifier.Load(b);
        foreach (var image in fromImages.Report.HeldOut.Take(12).Select(h => h.Path))
        {
            var (p, q) = (imagesModel.Predict(image), shardsModel.Predict(image));
            Assert.That(q.Probabilities.Select(c => c.Probability), Is.EqualTo(p.Probabilities.Select(c => c.Probability)).Within(1e-5), image);
            Assert.That(q.Label, Is.EqualTo(p.Label));
        }
    }

    [Test]
    public void DuckDB_ReadsTheShards_WithTheSameCounts()
    {
        var store = StoredFeatures.Open(_sharded);
        var expected = store.Rows.GroupBy(r => (r.Key.Label, r.Key.Split)).ToDictionary(g => g.Key, g => g.Count());

        using var db = new DuckDBConnection("Data Source=:memory:");
        db.Open();
        using var query = db.CreateCommand();
        var glob = Path.Combine(_sharded, "*.parquet").Replace("'", "''");
        query.CommandText = $"SELECT label, split, count(*), min(len(features)), max(len(features)), count(DISTINCT sha256) FROM read_parquet('{glob}') GROUP BY label, split ORDER BY label";
        var seen = new Dictionary<(string, string?), int>();
        using (var reader = query.ExecuteReader())
        {
            while (reader.Read())
            {
                var key = (reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1));
                seen[key] = Convert.ToInt32(reader.GetValue(2));
                Assert.That(Convert.ToInt32(reader.GetValue(3)), Is.EqualTo(1280));
                Assert.That(Convert.ToInt32(reader.GetValue(4)), Is.EqualTo(1280));
            }
        }
        Assert.That(seen, Is.EqualTo(expected));
        Assert.That(seen.Values.Sum(), Is.EqualTo(600));

        query.CommandText = $"SELECT decode(value) FROM parquet_kv_metadata('{Path.Combine(_sharded, "shard-00000-of-00003.parquet").Replace("'", "''")}') WHERE decode(key) = 'mltransfer.feature_width'";
        Assert.That(query.ExecuteScalar(), Is.EqualTo("1280"));
    }
}
