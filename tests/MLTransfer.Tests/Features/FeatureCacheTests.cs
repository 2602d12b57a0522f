using MLTransfer.Features;
using NUnit.Framework;

namespace MLTransfer.Tests.Features;

public class FeatureCacheTests
{
    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("mlt-cache-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, true);

    private static string Hash(int i) => i.ToString("x64");

    [Test]
    public void Entries_SurviveReopening()
    {
        var path = Path.Combine(_dir, "f.bin");
        using (var cache = FeatureCache.Open(path, 4))
            cache.AddRange([(Hash(1), [1f, 2f, 3f, 4f]), (Hash(2), [5f, 6f, 7f, 8f])]);
        using var reopened = FeatureCache.Open(path, 4);
        Assert.That(reopened.Count, Is.EqualTo(2));
        Assert.That(reopened.TryGet(Hash(2)), Is.EqualTo(new[] { 5f, 6f, 7f, 8f }));
        Assert.That(reopened.TryGet(Hash(3)), Is.Null);
        Assert.That(reopened.DroppedTornRecords, Is.Zero);
    }

    [Test]
    public void TornTail_IsDroppedAndEarlierEntriesKept()
    {
        var path = Path.Combine(_dir, "f.bin");
        using (var cache = FeatureCache.Open(path, 4))
            cache.AddRange([(Hash(1), [1f, 2f, 3f, 4f]), (Hash(2), [5f, 6f, 7f, 8f])]);
        // Simulate a kill in the middle of the second record's write.
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^10]);
        using (var reopened = FeatureCache.Open(path, 4))
        {
            Assert.That(reopened.Count, Is.EqualTo(1));
            Assert.That(reopened.DroppedTornRecords, Is.GreaterThan(0));
            Assert.That(reopened.TryGet(Hash(1)), Is.EqualTo(new[] { 1f, 2f, 3f, 4f }));
            reopened.AddRange([(Hash(3), [9f, 9f, 9f, 9f])]);
        }
        using var again = FeatureCache.Open(path, 4);
        Assert.That(again.Count, Is.EqualTo(2));
        Assert.That(again.TryGet(Hash(3)), Is.EqualTo(new[] { 9f, 9f, 9f, 9f }));
    }

    [Test]
    public void CorruptRecord_IsNotServed()
    {
        var path = Path.Combine(_dir, "f.bin");
        using (var cache = FeatureCache.Open(path, 4))
            cache.AddRange([(Hash(1), [1f, 2f, 3f, 4f])]);
        var bytes = File.ReadAllBytes(path);
        bytes[16 + 32 + 2] ^= 0xFF; // flip a bit inside the feature payload
        File.WriteAllBytes(path, bytes);
        using var reopened = FeatureCache.Open(path, 4);
        Assert.That(reopened.TryGet(Hash(1)), Is.Null);
    }

    [Test]
    public void WrongFeatureSize_IsAClearError()
    {
        var path = Path.Combine(_dir, "f.bin");
        using (FeatureCache.Open(path, 4)) { }
        var e = Assert.Throws<MLTransferException>(() => FeatureCache.Open(path, 8));
        Assert.That(e!.Message, Does.Contain("4-d").And.Contain("8-d"));
    }

    [Test]
    public void SecondWriter_IsRefused()
    {
        var path = Path.Combine(_dir, "f.bin");
        using var first = FeatureCache.Open(path, 4);
        var e = Assert.Throws<MLTransferException>(() => FeatureCache.Open(path, 4));
        Assert.That(e!.Message, Does.Contain("in use"));
    }
}
