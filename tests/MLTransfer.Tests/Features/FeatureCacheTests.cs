using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using MLTransfer.Features;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;

namespace MLTransfer.Tests.Features;

public class FeatureCacheTests
{
    private const int HeaderSize = 16;
    private const int Width = 4;
    private const int RecordSize = 32 + Width * sizeof(float) + 8;

    private string _dir = "";

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("mlt-cache-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, true);

    private static string Hash(int i) => i.ToString("x64");

    private static float[] Vector(int i) => [i, i + 0.5f, -i, 1f / (i + 1)];

    private string CacheWith(int n)
    {
        var path = Path.Combine(_dir, "f.bin");
        using var cache = FeatureCache.Open(path, Width);
        cache.AddRange(Enumerable.Range(0, n).Select(i => (Hash(i), Vector(i))));
        return path;
    }

    private string[] QuarantinedFiles() => Directory.GetFiles(_dir, "f.bin.corrupt-*");

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
        Assert.That(reopened.TornTailBytes, Is.Zero);
        Assert.That(reopened.CorruptRecordsDropped, Is.Zero);
        Assert.That(reopened.QuarantinedFile, Is.Null);
        Assert.That(reopened.OpenNotices, Is.Empty);
    }

    [Test]
    public void TornTail_IsCutOffAndReportedInBytes_EarlierEntriesKept()
    {
        var path = CacheWith(2);
        // Simulate a kill in the middle of the second record's write.
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^10]);
        using (var reopened = FeatureCache.Open(path, Width))
        {
            Assert.That(reopened.Count, Is.EqualTo(1));
            Assert.That(reopened.TornTailBytes, Is.EqualTo(RecordSize - 10), "bytes of the incomplete record, not a record count");
            Assert.That(reopened.CorruptRecordsDropped, Is.Zero, "an incomplete tail is not a damaged record");
            Assert.That(reopened.OpenNotices, Has.One.Contains("incomplete last record").And.Contains($"{RecordSize - 10} bytes"));
            Assert.That(reopened.TryGet(Hash(0)), Is.EqualTo(Vector(0)));
            reopened.AddRange([(Hash(3), [9f, 9f, 9f, 9f])]);
        }
        using var again = FeatureCache.Open(path, Width);
        Assert.That(again.Count, Is.EqualTo(2));
        Assert.That(again.TryGet(Hash(3)), Is.EqualTo(new[] { 9f, 9f, 9f, 9f }));
        Assert.That(again.TornTailBytes, Is.Zero);
    }

    [Test]
    public void CorruptRecord_IsNotServed()
    {
        var path = CacheWith(1);
        var bytes = File.ReadAllBytes(path);
        bytes[HeaderSize + 32 + 2] ^= 0xFF; // flip a bit inside the feature payload
        File.WriteAllBytes(path, bytes);
        using var reopened = FeatureCache.Open(path, Width);
        Assert.That(reopened.TryGet(Hash(0)), Is.Null);
        Assert.That(reopened.CorruptRecordsDropped, Is.EqualTo(1));
    }

    [TestCase(0), TestCase(4), TestCase(9)]
    public void FlippedByteInRecordK_DropsOnlyThatRecord_AndKeepsEveryOther(int k)
    {
        const int n = 10;
        var path = CacheWith(n);
        var bytes = File.ReadAllBytes(path);
        bytes[HeaderSize + k * RecordSize + 40] ^= 0x01;
        File.WriteAllBytes(path, bytes);

        using (var reopened = FeatureCache.Open(path, Width))
        {
            Assert.That(reopened.Count, Is.EqualTo(n - 1));
            Assert.That(reopened.CorruptRecordsDropped, Is.EqualTo(1));
            Assert.That(reopened.TornTailBytes, Is.Zero);
            Assert.That(reopened.OpenNotices, Has.One.Contains("dropped 1 damaged record").And.Contains($"kept the other {n - 1}"));
            for (var i = 0; i < n; i++)
                Assert.That(reopened.TryGet(Hash(i)), i == k ? Is.Null : Is.EqualTo(Vector(i)), $"record {i}");
            reopened.AddRange([(Hash(k), Vector(k))]);
        }
        // The damaged record was dropped from the file, so it is reported once, not on every open.
        Assert.That(new FileInfo(path).Length, Is.EqualTo(HeaderSize + n * RecordSize));
        using var again = FeatureCache.Open(path, Width);
        Assert.That(again.Count, Is.EqualTo(n));
        Assert.That(again.CorruptRecordsDropped, Is.Zero);
        Assert.That(again.OpenNotices, Is.Empty);
        for (var i = 0; i < n; i++)
            Assert.That(again.TryGet(Hash(i)), Is.EqualTo(Vector(i)), $"record {i}");
    }

    [Test]
    public void DamagedRecordsAndATornTail_AreCountedSeparately()
    {
        var path = CacheWith(6);
        var bytes = File.ReadAllBytes(path);
        bytes[HeaderSize + 1 * RecordSize + 3] ^= 0x80; // in the hash
        bytes[HeaderSize + 3 * RecordSize + RecordSize - 1] ^= 0x80; // in the checksum
        File.WriteAllBytes(path, bytes[..^7]);
        using var reopened = FeatureCache.Open(path, Width);
        Assert.That(reopened.CorruptRecordsDropped, Is.EqualTo(2));
        Assert.That(reopened.TornTailBytes, Is.EqualTo(RecordSize - 7));
        Assert.That(reopened.Count, Is.EqualTo(3));
        Assert.That(new[] { 0, 2, 4 }.Select(i => reopened.TryGet(Hash(i))), Is.EqualTo(new[] { Vector(0), Vector(2), Vector(4) }));
    }

    [Test]
    public void ZeroedFile_IsMovedAsideAndAFreshCacheStarted()
    {
        var path = CacheWith(3);
        var length = new FileInfo(path).Length;
        File.WriteAllBytes(path, new byte[length]);
        AssertQuarantinedAndFresh(path, new byte[length], "signature");
    }

    [Test]
    public void TenByteFile_IsMovedAsideAndAFreshCacheStarted()
    {
        var path = CacheWith(3);
        var stub = File.ReadAllBytes(path)[..10];
        File.WriteAllBytes(path, stub);
        AssertQuarantinedAndFresh(path, stub, "only 10 bytes");
    }

    [Test]
    public void ChangedFeatureWidthField_IsMovedAsideAndAFreshCacheStarted()
    {
        var path = CacheWith(3);
        var bytes = File.ReadAllBytes(path);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(8), 7);
        File.WriteAllBytes(path, bytes);
        AssertQuarantinedAndFresh(path, bytes, "7-d features but the backbone gives 4-d");
    }

    private void AssertQuarantinedAndFresh(string path, byte[] original, string reason)
    {
        using (var cache = FeatureCache.Open(path, Width))
        {
            Assert.That(cache.Count, Is.Zero);
            Assert.That(cache.QuarantinedFile, Is.Not.Null);
            Assert.That(Path.GetFileName(cache.QuarantinedFile), Does.Match(@"^f\.bin\.corrupt-\d{8}T\d{6}Z$"));
            Assert.That(File.ReadAllBytes(cache.QuarantinedFile!), Is.EqualTo(original), "the damaged file is kept as it was, never deleted");
            Assert.That(cache.OpenNotices, Has.One.Contains(reason).And.Contains(cache.QuarantinedFile!).And.Contains("started an empty cache"));
            cache.AddRange([(Hash(5), Vector(5))]);
        }
        // The fresh cache works like any other.
        using var again = FeatureCache.Open(path, Width);
        Assert.That(again.TryGet(Hash(5)), Is.EqualTo(Vector(5)));
        Assert.That(again.OpenNotices, Is.Empty);
        Assert.That(QuarantinedFiles(), Has.Length.EqualTo(1));
    }

    [Test]
    public void TwoQuarantinesInTheSameSecond_KeepBothFiles()
    {
        var path = Path.Combine(_dir, "f.bin");
        File.WriteAllBytes(path, [1, 2, 3]);
        using (FeatureCache.Open(path, Width)) { }
        File.WriteAllBytes(path, [4, 5, 6, 7]);
        using (FeatureCache.Open(path, Width)) { }
        var aside = QuarantinedFiles();
        Assert.That(aside, Has.Length.EqualTo(2));
        Assert.That(aside.Select(File.ReadAllBytes).OrderBy(b => b.Length), Is.EqualTo(new[] { new byte[] { 1, 2, 3 }, new byte[] { 4, 5, 6, 7 } }));
    }

    [Test]
    public void DamagedRecord_NextExtractionRecomputesOnlyThatImage()
    {
        var images = TinyImages.WriteClass(Path.Combine(_dir, "images"), "red", 0, 6);
        using var session = new BackboneSession(TinyImages.PreparedBackbone());
        var path = Path.Combine(_dir, "features.bin");
        var options = new FeatureExtractionOptions { BatchSize = 2, DecodeThreads = 1 };
        FeatureExtractionResult first;
        using (var cache = FeatureCache.Open(path, session.Backbone.FeatureSize))
            first = FeatureExtractor.Extract(images, session, cache, options);
        Assert.That(first.Extracted, Is.EqualTo(6));

        var recordSize = 32 + session.Backbone.FeatureSize * sizeof(float) + 8;
        var bytes = File.ReadAllBytes(path);
        bytes[HeaderSize + 3 * recordSize + 50] ^= 0x10;
        File.WriteAllBytes(path, bytes);

        using (var cache = FeatureCache.Open(path, session.Backbone.FeatureSize))
        {
            Assert.That(cache.Count, Is.EqualTo(5));
            var second = FeatureExtractor.Extract(images, session, cache, options);
            Assert.That(second.Extracted, Is.EqualTo(1), "only the image whose record was damaged runs through the backbone again");
            Assert.That(second.FromCache, Is.EqualTo(5));
            foreach (var image in images)
                Assert.That(second.ByName[image], Is.EqualTo(first.ByName[image]).Within(1e-6f), image);
        }
    }

    [Test]
    public void SecondOpen_WaitsForTheFirstToClose_AndSaysSo()
    {
        var path = Path.Combine(_dir, "f.bin");
        var first = FeatureCache.Open(path, Width);
        var lines = new ConcurrentQueue<string>();
        var second = Task.Run(() => FeatureCache.Open(path, Width, new FeatureCacheOpenOptions
        {
            LockTimeout = TimeSpan.FromSeconds(60),
            PollInterval = TimeSpan.FromMilliseconds(20),
            Log = lines.Enqueue,
        }));
        try
        {
            Assert.That(SpinWait.SpinUntil(() => !lines.IsEmpty, TimeSpan.FromSeconds(20)), Is.True, "the second open says it is waiting");
            Thread.Sleep(200);
            Assert.That(second.IsCompleted, Is.False, "the second open waits while the first holds the cache");
            first.AddRange([(Hash(1), Vector(1))]);
        }
        finally
        {
            first.Dispose();
        }

        Assert.That(second.Wait(TimeSpan.FromSeconds(20)), Is.True, "the second open gets the cache once the first closes it");
        using var opened = second.Result;
        Assert.That(opened.TryGet(Hash(1)), Is.EqualTo(Vector(1)), "and sees what the first run wrote");
        var log = lines.ToArray();
        Assert.That(log[0], Does.StartWith("waiting for another run to release the feature cache").And.Contain(path));
        Assert.That(log, Has.Some.Contains("released after"));
    }

    [Test]
    public void SecondOpen_AfterTheTimeout_FailsWithAdvice()
    {
        var path = Path.Combine(_dir, "f.bin");
        using var first = FeatureCache.Open(path, Width);
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<MLTransferException>(() => FeatureCache.Open(path, Width, new FeatureCacheOpenOptions
        {
            LockTimeout = TimeSpan.FromMilliseconds(400),
            PollInterval = TimeSpan.FromMilliseconds(50),
        }))!;
        Assert.That(clock.Elapsed, Is.GreaterThanOrEqualTo(TimeSpan.FromMilliseconds(390)), "it waited before giving up");
        TestContext.Out.WriteLine(e.Message);
        Assert.That(e.What, Does.Contain("still in use by another run after waiting 0.4 s"));
        Assert.That(e.Where, Is.EqualTo(path));
        Assert.That(e.Fix, Does.Contain("Wait for the other run").And.Contain("--workspace"));
        Assert.That(e.Message, Does.Not.Contain("\n"));
    }

    [Test]
    public void ZeroTimeout_FailsAtOnce()
    {
        var path = Path.Combine(_dir, "f.bin");
        using var first = FeatureCache.Open(path, Width);
        var e = Assert.Throws<MLTransferException>(() => FeatureCache.Open(path, Width, new FeatureCacheOpenOptions { LockTimeout = TimeSpan.Zero }))!;
        Assert.That(e.What, Is.EqualTo("The feature cache is in use by another run"));
        Assert.That(e.Fix, Does.Contain("--workspace"));
    }
}
