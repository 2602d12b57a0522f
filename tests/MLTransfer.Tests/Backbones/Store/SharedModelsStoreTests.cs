using MLTransfer.Backbones.Catalog;
using MLTransfer.Backbones.Store;
using NUnit.Framework;

namespace MLTransfer.Tests.Backbones.Store;

/// <summary>The real offline folder <c>../shared/models</c> (next to the folder holding MLTransfer.sln).</summary>
[TestFixture]
public sealed class SharedModelsStoreTests
{
    private string _cache = null!;

    [SetUp]
    public void SetUp() =>
        _cache = Path.Combine(Path.GetTempPath(), "mltransfer-store-tests", Guid.NewGuid().ToString("N"), "cache");

    [TearDown]
    public void TearDown()
    {
        try { Directory.Delete(Path.GetDirectoryName(_cache)!, recursive: true); } catch (IOException) { }
    }

    /// <summary>Walks up from the test directory to the folder holding MLTransfer.sln, then ../shared/models.</summary>
    private static string SharedModelsDir()
    {
        for (var dir = new DirectoryInfo(TestContext.CurrentContext.TestDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MLTransfer.sln")))
            {
                var models = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "models"));
                if (!Directory.Exists(models)) Assert.Ignore($"shared models folder not found: {models}");
                return models;
            }
        }
        Assert.Ignore("MLTransfer.sln not found above " + TestContext.CurrentContext.TestDirectory);
        return null!;
    }

    private BackboneStore Store(List<string> log) => new(BackboneCatalog.BuiltIn, new BackboneStoreOptions
    {
        CacheDir = _cache,
        OfflineDirs = [SharedModelsDir()],
        AllowDownload = false,
        Log = log.Add,
        // Only the offline folder: the NuGet backbone is tested on its own.
        NuGetGlobalPackagesFolder = Path.Combine(Path.GetDirectoryName(_cache)!, "no-nuget-packages"),
    });

    [TestCase("mobilenet-v2", "mobilenet_v2_1.0_224.onnx", "e9067399bf7adc64295ccf94083e12d44168dfc8c56aad2321029a8b47fbdf9b")]
    [TestCase("mobilenet-v1-0.75-192", "mobilenet_v1_0.75_192.onnx", "bd93b4314510baa4e619114c978a76668a8314f5718e8c4427dba5db4ab7d934")]
    [TestCase("resnet50", "resnet50_keras_224.onnx", "17612e103380f016f88199f2f0bff1c0a48690dc309f550e18ded9f47d83b62b")]
    public void SharedModelsFolder_ResolvesWithVerifiedChecksum(string name, string file, string sha)
    {
        var log = new List<string>();
        using var store = Store(log);

        var resolved = store.Resolve(name);

        Assert.That(resolved.How, Is.EqualTo(BackboneLocation.Offline));
        Assert.That(resolved.FilePath, Is.EqualTo(Path.Combine(SharedModelsDir(), file)));
        Assert.That(resolved.Sha256, Is.EqualTo(sha));
        Assert.That(resolved.Description.Name, Is.EqualTo(name));
        Assert.That(log, Has.Some.Contains("SHA-256 verified"));
    }

    [Test]
    public void SharedModelsFolder_IsTheDefaultChoice()
    {
        using var store = Store([]);

        var choice = store.ChooseDefault();

        Assert.That(choice.Description.Name, Is.EqualTo("mobilenet-v2"));
        Assert.That(choice.Reason, Is.EqualTo($"mobilenet-v2: first catalog entry found locally, in offline folder {SharedModelsDir()}"));
    }

    [Test]
    public void SharedModelsFolder_VerifyAndList()
    {
        using var store = Store([]);

        var verify = store.Verify();
        Assert.That(verify.Select(v => v.Name), Is.EquivalentTo(new[] { "mobilenet-v2", "mobilenet-v1-0.75-192", "resnet50" }));
        Assert.That(verify.Select(v => v.Status), Is.All.EqualTo(VerifyStatus.Ok));

        var list = store.List();
        Assert.That(list.Where(l => l.AvailableLocally).Select(l => l.Name),
            Is.EqualTo(new[] { "mobilenet-v2", "mobilenet-v1-0.75-192", "resnet50" }));
        Assert.That(list.Where(l => !l.AvailableLocally), Has.All.Property(nameof(BackboneListing.Downloadable)).True);
    }
}
