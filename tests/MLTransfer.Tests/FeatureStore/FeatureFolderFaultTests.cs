using System.Text.Json.Nodes;
using MLTransfer.FeatureStore;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Training;
using NUnit.Framework;

namespace MLTransfer.Tests.FeatureStore;

/// <summary>
/// Bad feature folders: each is refused with one error that names the file, and nothing is written or replaced.
/// Small generated images and a tiny backbone keep each case well under a second.
/// </summary>
[TestFixture]
public class FeatureFolderFaultTests
{
    private string _root = null!;
    private string _data = null!;
    private string _backboneA = null!;
    private string _backboneB = null!;

    [OneTimeSetUp]
    public void MakeData()
    {
        _root = Directory.CreateTempSubdirectory("mlt-shard-faults-").FullName;
        _data = Path.Combine(_root, "data");
        foreach (var (label, k) in new[] { ("red", 0), ("blue", 1), ("green", 2) })
            TinyImages.WriteClass(Path.Combine(_data, label), label, k, 12);
        _backboneA = TinyImages.WriteBackbone(Path.Combine(_root, "a"));
        _backboneB = Path.Combine(_root, "b", "tiny_resnet_b.onnx");
        Directory.CreateDirectory(Path.GetDirectoryName(_backboneB)!);
        File.WriteAllBytes(_backboneB, OnnxFixtures.Bytes(OnnxFixtures.TinyResNet(width: 8, size: 32, seed: 77)));
    }

    [OneTimeTearDown]
    public void Clean() => Directory.Delete(_root, recursive: true);

    private static ShardExtractionOptions Options(string backbone, int index, int count) => new()
    {
        Shard = new ShardSpec(index, count),
        Backbone = new() { Name = backbone, Adjust = d => d with { InputWidth = 32, InputHeight = 32 }, AllowDownload = false },
    };

    private TransferLearningOptions TrainOptions(string backbone) => TinyImages.TrainingOptions(backbone, Path.Combine(_root, "workspace"));

    private string Extract(string name, int count, params int[] shards)
    {
        var folder = Path.Combine(_root, name);
        foreach (var i in shards)
            FeatureShards.Extract(_data, folder, Options(_backboneA, i, count));
        return folder;
    }

    private static Dictionary<string, string> Snapshot(string folder) =>
        Directory.EnumerateFiles(folder).ToDictionary(f => Path.GetFileName(f), f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))));

    [Test]
    public void MissingShard_IsNamed_AndNoModelIsWritten()
    {
        var folder = Extract("missing", 3, 0, 2);
        var e = Assert.Throws<MLTransferException>(() => TransferLearner.TrainFromFeatures(folder, TrainOptions(_backboneA)))!;
        Assert.That(e.Message, Does.Contain("Shard 1 of 3 is missing").And.Contain("shard-00001-of-00003.parquet").And.Contain("extract --shard 1/3"));

        var output = Path.Combine(_root, "missing.zip");
        var cli = CliRunner.Run(["train", "--features", folder, "--backbone", _backboneA, "--input-size", "32", "--offline", "-o", output, "--workspace", Path.Combine(_root, "workspace")]);
        Assert.That(cli.ExitCode, Is.EqualTo(1), cli.ToString());
        Assert.That(cli.StdErr, Does.Contain("error: Shard 1 of 3 is missing"));
        Assert.That(File.Exists(output), Is.False);
    }

    [Test]
    public void TruncatedShard_IsNamed_AndLeftAsItWas()
    {
        var folder = Extract("truncated", 2, 0, 1);
        var shard = Path.Combine(folder, "shard-00001-of-00002.parquet");
        using (var stream = new FileStream(shard, FileMode.Open))
            stream.SetLength(stream.Length * 2 / 3);
        var before = Snapshot(folder);
        var e = Assert.Throws<MLTransferException>(() => TransferLearner.TrainFromFeatures(folder, TrainOptions(_backboneA)))!;
        Assert.That(e.Message, Does.Contain("damaged or incomplete").And.Contain(shard));
        Assert.That(Snapshot(folder), Is.EqualTo(before));

        // A truncated file that the manifest does not vouch for is refused by the reader itself, by its envelope.
        var reader = Assert.Throws<MLTransferException>(() => ShardReader.Open(shard))!;
        Assert.That(reader.Message, Does.Contain("does not end with the Parquet signature").And.Contain(shard));
    }

    [Test]
    public void ShardsOfTwoBackbones_AreRefused_WhenExtracting_AndWhenTraining()
    {
        var folder = Extract("mixed", 2, 0);
        var before = Snapshot(folder);
        var e = Assert.Throws<MLTransferException>(() => FeatureShards.Extract(_data, folder, Options(_backboneB, 1, 2)))!;
        Assert.That(e.Message, Does.Contain("another backbone").And.Contain(FeatureManifest.FileName));
        Assert.That(Snapshot(folder), Is.EqualTo(before), "nothing written");

        // A shard of backbone B copied in, with a manifest edited to vouch for it, is still caught by its own metadata.
        var other = Path.Combine(_root, "other-backbone");
        FeatureShards.Extract(_data, other, Options(_backboneB, 1, 2));
        var stray = Path.Combine(folder, "shard-00001-of-00002.parquet");
        File.Copy(Path.Combine(other, "shard-00001-of-00002.parquet"), stray);
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, FeatureManifest.FileName)))!;
        var entry = JsonNode.Parse(File.ReadAllText(Path.Combine(other, FeatureManifest.FileName)))!["shards"]![0]!.DeepClone();
        manifest["shards"]!.AsArray().Add(entry);
        File.WriteAllText(Path.Combine(folder, FeatureManifest.FileName), manifest.ToJsonString());
        var t = Assert.Throws<MLTransferException>(() => TransferLearner.TrainFromFeatures(folder, TrainOptions(_backboneA)))!;
        Assert.That(t.Message, Does.Contain("two backbones").And.Contain(stray));
    }

    [Test]
    public void ShardCountChangedBetweenRuns_IsRefused_AndNothingIsOverwritten()
    {
        var folder = Extract("count", 3, 0, 1, 2);
        var before = Snapshot(folder);
        var e = Assert.Throws<MLTransferException>(() => FeatureShards.Extract(_data, folder, Options(_backboneA, 0, 4)))!;
        Assert.That(e.Message, Does.Contain("shard count changed").And.Contain("3 shards").And.Contain(FeatureManifest.FileName));
        Assert.That(Snapshot(folder), Is.EqualTo(before));

        var cli = CliRunner.Run(["extract", "--data", _data, "--features", folder, "--backbone", _backboneA, "--input-size", "32", "--offline", "--shard", "1/4"]);
        Assert.That(cli.ExitCode, Is.EqualTo(1), cli.ToString());
        Assert.That(cli.StdErr, Does.Contain("error: The shard count changed"));
        Assert.That(Snapshot(folder), Is.EqualTo(before));

        // A stray shard of another count (copied in by hand) stops training, naming it.
        File.Copy(Path.Combine(folder, "shard-00000-of-00003.parquet"), Path.Combine(folder, "shard-00000-of-00004.parquet"));
        var t = Assert.Throws<MLTransferException>(() => TransferLearner.TrainFromFeatures(folder, TrainOptions(_backboneA)))!;
        Assert.That(t.Message, Does.Contain("shard-00000-of-00004.parquet").And.Contain("two extractions"));
    }

    [Test]
    public void TheSameImageInTwoShards_IsRefused()
    {
        var folder = Extract("duplicate", 2, 0, 1);
        // Shard 1's file replaced by shard 0's, with the manifest made to agree: every row of it is then twice.
        var (zero, one) = (Path.Combine(folder, "shard-00000-of-00002.parquet"), Path.Combine(folder, "shard-00001-of-00002.parquet"));
        var store = StoredFeatures.Open(folder);
        Assert.That(store.Rows.Count + store.Skipped.Count, Is.EqualTo(36));
        using (var reader = ShardReader.Open(zero))
            Assert.That(reader.Facts.Shard, Is.EqualTo(new ShardSpec(0, 2)));
        File.Copy(zero, one, overwrite: true);
        var manifest = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, FeatureManifest.FileName)))!;
        var entries = manifest["shards"]!.AsArray();
        entries[1]!["bytes"] = entries[0]!["bytes"]!.GetValue<long>();
        entries[1]!["sha256"] = entries[0]!["sha256"]!.GetValue<string>();
        entries[1]!["rows"] = entries[0]!["rows"]!.GetValue<long>();
        File.WriteAllText(Path.Combine(folder, FeatureManifest.FileName), manifest.ToJsonString());
        var e = Assert.Throws<MLTransferException>(() => StoredFeatures.Open(folder))!;
        Assert.That(e.Message, Does.Contain("says it is shard 0/2").And.Contain(one));
    }

    [Test]
    public void RerunningAFinishedShard_DoesNothing_AndAddedImages_RedoOnlyTheirShard()
    {
        var data = Path.Combine(_root, "growing");
        foreach (var (label, k) in new[] { ("red", 0), ("blue", 1) })
            TinyImages.WriteClass(Path.Combine(data, label), label, k, 10);
        var folder = Path.Combine(_root, "growing-features");
        var first = Enumerable.Range(0, 3).Select(i => FeatureShards.Extract(data, folder, Options(_backboneA, i, 3))).ToList();
        Assert.That(first.All(r => !r.AlreadyComplete && r.FromCache == 0));
        var again = Enumerable.Range(0, 3).Select(i => FeatureShards.Extract(data, folder, Options(_backboneA, i, 3))).ToList();
        Assert.That(again.All(r => r.AlreadyComplete && r.Extracted == 0));

        var added = Path.Combine(data, "red", "red_new.png");
        File.WriteAllBytes(added, TinyImages.Png(0, 999));
        var owner = ShardSpec.ShardOf("red/red_new.png", 3);
        var third = Enumerable.Range(0, 3).Select(i => FeatureShards.Extract(data, folder, Options(_backboneA, i, 3))).ToList();
        for (var i = 0; i < 3; i++)
            Assert.That(third[i].AlreadyComplete, Is.EqualTo(i != owner), $"shard {i}");
        Assert.That(third[owner].Rows, Is.EqualTo(first[owner].Rows + 1));
        Assert.That(StoredFeatures.Open(folder).Rows, Has.Count.EqualTo(21));
    }

    [Test]
    public void UndecodableImages_AreKeptAsSkipped_SoTheSplitIsTheSameAsOnTheImages()
    {
        var data = Path.Combine(_root, "with-bad");
        foreach (var (label, k) in new[] { ("red", 0), ("blue", 1) })
            TinyImages.WriteClass(Path.Combine(data, label), label, k, 14);
        File.WriteAllBytes(Path.Combine(data, "red", "broken.png"), [0x89, 0x50, 0x4E, 0x47, 1, 2, 3]);
        var folder = Path.Combine(_root, "with-bad-features");
        for (var i = 0; i < 2; i++)
            FeatureShards.Extract(data, folder, Options(_backboneA, i, 2));
        var store = StoredFeatures.Open(folder);
        Assert.That(store.Skipped.Select(s => s.Path), Is.EqualTo(new[] { "red/broken.png" }));

        var options = TrainOptions(_backboneA) with { Seed = 5 };
        using var fromImages = TransferLearner.Train(data, options);
        using var fromShards = TransferLearner.TrainFromFeatures(folder, options);
        Assert.That(fromShards.Report.Counts, Is.EqualTo(fromImages.Report.Counts));
        Assert.That(fromShards.Report.HeldOut.Select(h => (h.Path, h.PredictedLabel)), Is.EqualTo(fromImages.Report.HeldOut.Select(h => (h.Path, h.PredictedLabel))));
        Assert.That(fromShards.Report.Skipped.Select(s => s.Path), Is.EqualTo(fromImages.Report.Skipped.Select(s => s.Path)));
    }

    [Test, NonParallelizable]
    public void AboveTheMemoryThreshold_TheHeadStreamsFromTheShards_AndScoresLikeTheInMemoryFit()
    {
        var folder = Extract("streamed", 2, 0, 1);
        var options = TrainOptions(_backboneA) with { Seed = 3 };
        using var inMemory = TransferLearner.TrainFromFeatures(folder, options);
        var threshold = TransferLearner.InMemoryFeatureBytes;
        TransferLearner.InMemoryFeatureBytes = 0;
        try
        {
            var log = new List<string>();
            using var streamed = TransferLearner.TrainFromFeatures(folder, options with { Log = log.Add });
            Assert.That(log, Has.Some.Contains("head: streaming"));
            Assert.That(streamed.Report.Counts, Is.EqualTo(inMemory.Report.Counts));
            Assert.That(streamed.Report.HeldOut.Select(h => h.Path), Is.EqualTo(inMemory.Report.HeldOut.Select(h => h.Path)));
            Assert.That(streamed.Report.Test!.Accuracy, Is.EqualTo(inMemory.Report.Test!.Accuracy).Within(0.05));
            Assert.That(streamed.Report.Test.LogLoss, Is.EqualTo(inMemory.Report.Test.LogLoss).Within(0.05));
            var zip = Path.Combine(_root, "streamed.zip");
            streamed.Save(zip);
            using var classifier = MLTransfer.Inference.ImageClassifier.Load(zip);
            Assert.That(classifier.Predict(Directory.EnumerateFiles(Path.Combine(_data, "blue")).First()).Label, Is.EqualTo("blue"));
        }
        finally
        {
            TransferLearner.InMemoryFeatureBytes = threshold;
        }
    }

    [Test]
    public void OutputsNeverLandInTheData()
    {
        var e = Assert.Throws<MLTransferException>(() => FeatureShards.Extract(_data, Path.Combine(_data, "red"), Options(_backboneA, 0, 1)))!;
        Assert.That(e.Message, Does.Contain("inside the data folder"));
        Assert.That(Directory.EnumerateFiles(Path.Combine(_data, "red")).Count(), Is.EqualTo(12));
    }
}
