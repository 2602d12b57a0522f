using MLTransfer.FeatureStore;
using NUnit.Framework;

namespace MLTransfer.Tests.FeatureStore;

public class ShardAssignmentTests
{
    private static Func<string, string?> Env(params (string Key, string Value)[] vars) =>
        name => vars.FirstOrDefault(v => v.Key == name).Value;

    [Test]
    public void ExplicitShard_WinsOverTheEnvironment()
    {
        var a = ShardAssignment.Resolve("2/5", null, Env(("JOB_COMPLETION_INDEX", "1")));
        Assert.That((a.Shard, a.Source), Is.EqualTo((new ShardSpec(2, 5), "--shard")));
    }

    [Test]
    public void KubernetesIndexedJob_TakesTheCountFromAFlagOrVariable()
    {
        Assert.That(ShardAssignment.Resolve(null, 4, Env(("JOB_COMPLETION_INDEX", "3"))).Shard, Is.EqualTo(new ShardSpec(3, 4)));
        var a = ShardAssignment.Resolve(null, null, Env(("JOB_COMPLETION_INDEX", "0"), ("MLTRANSFER_SHARD_COUNT", "3")));
        Assert.That(a.Shard, Is.EqualTo(new ShardSpec(0, 3)));
        Assert.That(a.Source, Does.Contain("Kubernetes").And.Contain("JOB_COMPLETION_INDEX=0").And.Contain("MLTRANSFER_SHARD_COUNT"));
        var e = Assert.Throws<MLTransferException>(() => ShardAssignment.Resolve(null, null, Env(("JOB_COMPLETION_INDEX", "0"))))!;
        Assert.That(e.Message, Does.Contain("--shard-count"));
    }

    [Test]
    public void SlurmArray_UsesItsCount_AndStartsFromTheArraysFirstIndex()
    {
        var a = ShardAssignment.Resolve(null, null, Env(("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_COUNT", "3"), ("SLURM_ARRAY_TASK_MIN", "1")));
        Assert.That(a.Shard, Is.EqualTo(new ShardSpec(2, 3)));
        Assert.That(a.Source, Does.Contain("Slurm"));
        Assert.Throws<MLTransferException>(() => ShardAssignment.Resolve(null, null, Env(("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_COUNT", "3"))));
    }

    [Test]
    public void NothingGiven_IsOneShard()
    {
        var a = ShardAssignment.Resolve(null, null, Env());
        Assert.That(a.Shard, Is.EqualTo(ShardSpec.Single));
    }

    [TestCase("3/3")]
    [TestCase("-1/3")]
    [TestCase("1")]
    [TestCase("a/b")]
    [TestCase("0/0")]
    public void BadShard_IsRefused(string text) => Assert.Throws<MLTransferException>(() => ShardSpec.Parse(text));

    [Test]
    public void ThePartition_IsStable_AndSpreadsTheFiles()
    {
        var paths = Enumerable.Range(0, 3000).Select(i => $"class{i % 7}/img_{i:D5}.jpg").ToList();
        var counts = paths.GroupBy(p => ShardSpec.ShardOf(p, 3)).ToDictionary(g => g.Key, g => g.Count());
        Assert.That(counts.Values, Has.All.InRange(900, 1100));
        // The same path always goes to the same shard, whatever else is in the dataset.
        Assert.That(ShardSpec.ShardOf("daisy/100080576_f52e8ee070_n.jpg", 3), Is.EqualTo(ShardSpec.ShardOf("daisy/100080576_f52e8ee070_n.jpg", 3)));
        Assert.That(new ShardSpec(4, 12).FileName, Is.EqualTo("shard-00004-of-00012.parquet"));
        Assert.That(ShardSpec.FromFileName("shard-00004-of-00012.parquet"), Is.EqualTo(new ShardSpec(4, 12)));
        Assert.That(ShardSpec.FromFileName("shard-00012-of-00012.parquet"), Is.Null);
    }
}
