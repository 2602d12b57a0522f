using MLTransfer.Backbones.Catalog;
using MLTransfer.Backbones.Store;
using NUnit.Framework;

namespace MLTransfer.Tests.Backbones.Store;

/// <summary>Local resolution: explicit files, cache and offline folders, default choice, list and verify.</summary>
[TestFixture]
public sealed class BackboneStoreTests : StoreTestBase
{
    [Test]
    public void OfflineFolder_Hit_IsVerified()
    {
        File.WriteAllBytes(Path.Combine(OfflineDir, "test-net.onnx"), Data);
        var missing = Path.Combine(Root, "does-not-exist");
        using var store = Store(Options(offline: [missing, OfflineDir]), Record("test-net", null));

        var resolved = store.Resolve("test-net");

        Assert.That(resolved.How, Is.EqualTo(BackboneLocation.Offline));
        Assert.That(resolved.FilePath, Is.EqualTo(Path.Combine(OfflineDir, "test-net.onnx")));
        Assert.That(resolved.Sha256, Is.EqualTo(DataSha));
        Assert.That(resolved.Reason, Does.Contain("offline folder " + OfflineDir).And.Contain("verified"));
        Assert.That(LogLines, Has.Some.Contains("not in the cache"));
        Assert.That(LogLines, Has.Some.Contains(missing).And.Some.Contains("does not exist"));
        Assert.That(CacheFiles(), Is.Empty, "an offline hit is not copied into the cache");
    }

    [Test]
    public void OfflineFolder_WrongHash_IsRefused()
    {
        var path = Path.Combine(OfflineDir, "test-net.onnx");
        var other = MakeData(DataSize, 42);
        File.WriteAllBytes(path, other);
        using var store = Store(Options(offline: [OfflineDir]), Record("test-net", "http://127.0.0.1:9/never-used"));

        var ex = Assert.Throws<BackboneIntegrityException>(() => store.Resolve("test-net"));

        var actual = BackboneFileVerifier.ComputeSha256(path);
        Assert.That(ex!.Where, Is.EqualTo(path));
        Assert.That(ex.ExpectedSha256, Is.EqualTo(DataSha));
        Assert.That(ex.ActualSha256, Is.EqualTo(actual));
        Assert.That(ex.Message, Does.Contain(DataSha).And.Contain(actual).And.Contain(path).And.Contain("refusing"));
        Assert.That(ex.Fix, Does.Contain("Replace it"));
        Assert.That(CacheFiles(), Is.Empty, "a refused offline file must not trigger a download");
    }

    [Test]
    public void OfflineFolder_WrongSize_IsRefused()
    {
        File.WriteAllBytes(Path.Combine(OfflineDir, "test-net.onnx"), Data.AsSpan(0, 100).ToArray());
        using var store = Store(Options(offline: [OfflineDir]), Record("test-net", null));

        var ex = Assert.Throws<BackboneIntegrityException>(() => store.Resolve("test-net"));

        Assert.That(ex!.ActualSize, Is.EqualTo(100));
        Assert.That(ex.Message, Does.Contain("size 100 bytes"));
    }

    [Test]
    public void CachedFile_WrongHash_IsRefused_WithPullAdvice()
    {
        Directory.CreateDirectory(CacheDir);
        File.WriteAllBytes(Path.Combine(CacheDir, "test-net.onnx"), MakeData(DataSize, 3));
        File.WriteAllBytes(Path.Combine(OfflineDir, "test-net.onnx"), Data);
        using var store = Store(Options(offline: [OfflineDir]), Record("test-net", null));

        var ex = Assert.Throws<BackboneIntegrityException>(() => store.Resolve("test-net"));

        Assert.That(ex!.FilePath, Is.EqualTo(Path.Combine(CacheDir, "test-net.onnx")));
        Assert.That(ex.Fix, Does.Contain("backbones pull test-net"));
    }

    [Test, NonParallelizable]
    public void OfflineFolders_FromEnvironment_FollowTheCommandLineFolders()
    {
        var envDir = Path.Combine(Root, "env");
        Directory.CreateDirectory(envDir);
        File.WriteAllBytes(Path.Combine(envDir, "test-net.onnx"), Data);
        var saved = Environment.GetEnvironmentVariable(BackboneStoreOptions.OfflineDirsEnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(BackboneStoreOptions.OfflineDirsEnvironmentVariable,
                string.Join(Path.PathSeparator, Path.Combine(Root, "nowhere"), "", envDir));

            var options = BackboneStoreOptions.FromEnvironment([OfflineDir]) with
            {
                CacheDir = CacheDir,
                Log = LogLines.Enqueue,
            };

            Assert.That(options.OfflineDirs, Is.EqualTo(new[] { OfflineDir, Path.Combine(Root, "nowhere"), envDir }));
            using var store = Store(options, Record("test-net", null));
            var resolved = store.Resolve("test-net");
            Assert.That(resolved.How, Is.EqualTo(BackboneLocation.Offline));
            Assert.That(resolved.FilePath, Is.EqualTo(Path.Combine(envDir, "test-net.onnx")));
        }
        finally
        {
            Environment.SetEnvironmentVariable(BackboneStoreOptions.OfflineDirsEnvironmentVariable, saved);
        }
    }

    [Test]
    public void ExplicitFile_GetsCustomRecordNamedAfterTheFile()
    {
        var path = Path.Combine(Root, "my-model.onnx");
        File.WriteAllBytes(path, MakeData(2048, 11));
        using var store = Store(Options(), Record("test-net", null));

        var resolved = store.Resolve(path);

        Assert.That(resolved.How, Is.EqualTo(BackboneLocation.ExplicitFile));
        Assert.That(resolved.FilePath, Is.EqualTo(path));
        Assert.That(resolved.Description.Name, Is.EqualTo("my-model"));
        Assert.That(resolved.Description.Family, Is.EqualTo("custom"));
        Assert.That(resolved.Description.Sha256, Is.Null);
        Assert.That(resolved.Sha256, Is.EqualTo(BackboneFileVerifier.ComputeSha256(path)));
        Assert.That(resolved.Description.InputWidth, Is.EqualTo(224), "defaults of BackboneDescription");

        var tuned = resolved.Description with { InputWidth = 160, InputHeight = 160, Mean = [0.5f, 0.5f, 0.5f] };
        Assert.That(tuned.Name, Is.EqualTo("my-model"));
    }

    [Test]
    public void ExplicitFile_WithCatalogChecksum_UsesThatRecord()
    {
        var path = Path.Combine(Root, "renamed.onnx");
        File.WriteAllBytes(path, Data);
        using var store = Store(Options(), Record("test-net", null) with { InputWidth = 192 });

        var resolved = store.Resolve(path);

        Assert.That(resolved.How, Is.EqualTo(BackboneLocation.ExplicitFile));
        Assert.That(resolved.Description.Name, Is.EqualTo("test-net"));
        Assert.That(resolved.Description.InputWidth, Is.EqualTo(192));
    }

    [Test]
    public void MissingExplicitFile_IsAClearError()
    {
        using var store = Store(Options(), Record("test-net", null));
        var path = Path.Combine(Root, "nope.onnx");

        var ex = Assert.Throws<MLTransferException>(() => store.Resolve(path));

        Assert.That(ex!.Where, Is.EqualTo(path));
        Assert.That(ex.Message, Does.Contain("does not exist").And.Contain("test-net"));
    }

    [Test]
    public void UnknownName_ListsKnownNames()
    {
        using var store = Store(Options(), Record("test-net", null), Record("other-net", null));

        var ex = Assert.Throws<MLTransferException>(() => store.Resolve("resnet1000"));

        Assert.That(ex!.Message, Does.Contain("resnet1000").And.Contain("test-net, other-net"));
    }

    [Test]
    public void NotLocal_NoUrl_ExplainsWhereToPutTheFile()
    {
        using var store = Store(Options(offline: [OfflineDir]), Record("test-net", null));

        var ex = Assert.Throws<MLTransferException>(() => store.Resolve("test-net"));

        Assert.That(ex!.Message, Does.Contain("no download URL").And.Contain("test-net.onnx").And.Contain(OfflineDir));
    }

    [Test]
    public void NotLocal_DownloadsDisabled_IsAClearError()
    {
        using var store = Store(Options() with { AllowDownload = false }, Record("test-net", "http://127.0.0.1:9/x.onnx"));

        var ex = Assert.Throws<MLTransferException>(() => store.Resolve("test-net"));

        Assert.That(ex!.Message, Does.Contain("downloads are disabled"));
    }

    [Test]
    public void ChooseDefault_PicksFirstCatalogEntryFoundLocally()
    {
        File.WriteAllBytes(Path.Combine(OfflineDir, "second.onnx"), Data);
        File.WriteAllBytes(Path.Combine(OfflineDir, "third.onnx"), Data);
        using var store = Store(Options(offline: [OfflineDir]),
            Record("first", null), Record("second", null), Record("third", null));

        var choice = store.ChooseDefault();

        Assert.That(choice.Description.Name, Is.EqualTo("second"));
        Assert.That(choice.Local, Is.Not.Null);
        Assert.That(choice.Local!.Sha256, Is.EqualTo(DataSha));
        Assert.That(choice.Reason, Is.EqualTo($"second: first catalog entry found locally, in offline folder {OfflineDir}"));
    }

    [Test]
    public void ChooseDefault_NothingLocal_FallsBackToResNet18FromTheNuGetFeeds()
    {
        using var store = new BackboneStore(BackboneCatalog.BuiltIn, Options(offline: [OfflineDir]));

        var choice = store.ChooseDefault();

        Assert.That(choice.Description.Name, Is.EqualTo("resnet18"));
        Assert.That(choice.Local, Is.Null, "ChooseDefault itself does not download");
        Assert.That(choice.Reason, Does.StartWith("resnet18: no catalog entry found locally")
            .And.Contain($"NuGet global packages folder {Path.Combine(Root, "nuget-packages")}")
            .And.Contain("ML.NET's ResNet-18 will be downloaded as the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1 from the NuGet feeds"));
        Assert.That(CacheFiles(), Is.Empty);
    }

    [Test]
    public void ChooseDefault_NothingLocal_DownloadsDisabled_Throws()
    {
        using var store = new BackboneStore(BackboneCatalog.BuiltIn, Options() with { AllowDownload = false });

        var ex = Assert.Throws<MLTransferException>(() => store.ChooseDefault());

        Assert.That(ex!.Fix, Does.Contain("mobilenet_v2_1.0_224.onnx").And.Contain("restore the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1"));
    }

    [Test]
    public void List_ShowsSizeAndLocalAvailability()
    {
        Directory.CreateDirectory(CacheDir);
        File.WriteAllBytes(Path.Combine(CacheDir, "cached.onnx"), Data);
        File.WriteAllBytes(Path.Combine(OfflineDir, "offline.onnx"), Data.AsSpan(0, 10).ToArray());
        using var store = Store(Options(offline: [OfflineDir]),
            Record("cached", null), Record("offline", null), Record("remote", "http://127.0.0.1:9/remote.onnx"));

        var list = store.List();

        Assert.That(list.Select(l => l.Name), Is.EqualTo(new[] { "cached", "offline", "remote" }));
        Assert.That(list[0].Location, Is.EqualTo(BackboneLocation.Cache));
        Assert.That(list[0].SizeMatches, Is.True);
        Assert.That(list[1].Location, Is.EqualTo(BackboneLocation.Offline));
        Assert.That(list[1].LocalPath, Is.EqualTo(Path.Combine(OfflineDir, "offline.onnx")));
        Assert.That(list[1].SizeMatches, Is.False);
        Assert.That(list[2].AvailableLocally, Is.False);
        Assert.That(list[2].Downloadable, Is.True);
        Assert.That(list[2].SizeBytes, Is.EqualTo(DataSize));
    }

    [Test]
    public void Verify_ChecksEveryLocalCopy_WithoutThrowing()
    {
        Directory.CreateDirectory(CacheDir);
        File.WriteAllBytes(Path.Combine(CacheDir, "good.onnx"), Data);
        File.WriteAllBytes(Path.Combine(OfflineDir, "good.onnx"), MakeData(DataSize, 8));
        File.WriteAllBytes(Path.Combine(OfflineDir, "nosum.onnx"), MakeData(10, 8));
        using var store = Store(Options(offline: [OfflineDir]),
            Record("good", null), Record("absent", null), Record("nosum", null, sha: null, size: null) with { Sha256 = null });

        var results = store.Verify();

        Assert.That(results, Has.Count.EqualTo(3));
        Assert.That(results[0].Status, Is.EqualTo(VerifyStatus.Ok));
        Assert.That(results[0].Location, Is.EqualTo(BackboneLocation.Cache));
        Assert.That(results[1].Status, Is.EqualTo(VerifyStatus.Mismatch));
        Assert.That(results[1].Message, Does.Contain("MISMATCH").And.Contain(DataSha));
        Assert.That(results[2].Name, Is.EqualTo("nosum"));
        Assert.That(results[2].Status, Is.EqualTo(VerifyStatus.Unverified));
    }

    [Test]
    public void DefaultCacheDir_FollowsXdgLayout()
    {
        var dir = BackboneStoreOptions.DefaultCacheDir();
        Assert.That(dir, Does.EndWith(Path.Combine("mltransfer", "backbones")));
        Assert.That(BackboneStoreOptions.SplitDirs($"/a{Path.PathSeparator}{Path.PathSeparator} /b "), Is.EqualTo(new[] { "/a", "/b" }));
    }
}
