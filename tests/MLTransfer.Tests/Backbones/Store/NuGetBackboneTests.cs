using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLTransfer.Backbones.Catalog;
using MLTransfer.Backbones.Onnx;
using MLTransfer.Backbones.Store;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;
using static MLTransfer.Tests.Backbones.BackboneTestSupport;

namespace MLTransfer.Tests.Backbones.Store;

/// <summary>
/// ResNet-18 from ML.NET's NuGet package: found in the global packages folder or downloaded from the NuGet feed,
/// verified file by file, combined with its preprocessing graph into one cached ONNX file.
/// </summary>
[TestFixture, NonParallelizable]
public sealed class NuGetBackboneTests : StoreTestBase
{
    private BackboneStore NuGetStore(string? globalFolder = null, string? settingsRoot = null, bool allowDownload = true) =>
        new(BackboneCatalog.BuiltIn, new BackboneStoreOptions
        {
            CacheDir = CacheDir,
            AllowDownload = allowDownload,
            Log = LogLines.Enqueue,
            NuGetGlobalPackagesFolder = globalFolder ?? NuGetTestPackages.GlobalPackagesFolder,
            NuGetSettingsRoot = settingsRoot,
        });

    private static float[] Run(byte[] model, string input, float[] pixels, int batch)
    {
        using var session = new InferenceSession(model);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(input, new DenseTensor<float>(pixels, [batch, 3, 224, 224]))]);
        return results.Single().AsTensor<float>().ToArray();
    }

    [Test]
    public void GlobalPackagesFolder_Package_IsVerifiedCombinedAndCached_AndComputesWhatMLNetsTwoFilesCompute()
    {
        var global = NuGetTestPackages.GlobalPackagesFolder;
        using (var store = NuGetStore())
        {
            var resolved = store.Resolve("resnet18");

            Assert.That(resolved.How, Is.EqualTo(BackboneLocation.NuGetPackage));
            Assert.That(resolved.Reason, Is.EqualTo($"resnet18: ML.NET's ResNet-18 from the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1 found in {global}"));
            Assert.That(resolved.FilePath, Does.StartWith(CacheDir).And.Contain("resnet18-mlnet-0.23.1-"));
            Assert.That(File.ReadAllText(resolved.FilePath + ".sha256").Trim(), Is.EqualTo(resolved.Sha256));
            Assert.That(LogLines, Has.Some.Contains("SHA-256 verified").And.Contain("the batch dimension is dynamic"));

            var combined = File.ReadAllBytes(resolved.FilePath);
            var model = OnnxModelIO.Parse(combined);
            Assert.That(OnnxShapes.FormatShape(model.Graph.Input.Single()), Is.EqualTo("[N,3,224,224]"));
            Assert.That(model.OpsetImport.Single().Version, Is.EqualTo(8));

            // Reference: ML.NET's own order, the preprocessing file then the model file, one image at a time.
            var pixels = RandomPixels(3, 224, 224, seed: 21);
            var prep = File.ReadAllBytes(NuGetTestPackages.InstalledFile(NuGetTestPackages.ResNet18.Preprocess!));
            var resnet = File.ReadAllBytes(NuGetTestPackages.InstalledFile(NuGetTestPackages.ResNet18.Model));
            var reference = new List<float>();
            for (var i = 0; i < 3; i++)
                reference.AddRange(Run(resnet, "Input247", Run(prep, "OriginalInput", pixels.AsSpan(i * 3 * 224 * 224, 3 * 224 * 224).ToArray(), 1), 1));
            var batched = Run(combined, "OriginalInput", pixels, 3);
            Assert.That(batched, Has.Length.EqualTo(3 * 512));
            Assert.That(MaxAbsDiff(batched, reference.ToArray()), Is.LessThan(1e-4), "batch 3 of the combined graph vs the two files at batch 1");
            Assert.That(batched.Min(), Is.GreaterThanOrEqualTo(0f), "post-ReLU features");
        }

        LogLines.Clear();
        using (var again = NuGetStore())
        {
            var second = again.Resolve("resnet18");
            Assert.That(second.How, Is.EqualTo(BackboneLocation.Cache));
            Assert.That(second.Reason, Does.Contain("combined graph found in the cache folder"));
        }
    }

    [Test]
    public void NotInTheGlobalPackagesFolder_ItIsDownloadedFromTheNuGetFeed_AndOnlyTheCombinedGraphIsCached()
    {
        var emptyGlobal = Path.Combine(Root, "empty-global-packages");
        Directory.CreateDirectory(emptyGlobal);
        string fromFolder;
        using (var reference = NuGetStore())
            fromFolder = reference.Resolve("resnet18").Sha256;
        foreach (var f in CacheFiles()) File.Delete(f);

        // The user's NuGet.Config (nuget.org here) is the feed: the only network access the tests make.
        using var store = NuGetStore(globalFolder: emptyGlobal);
        var resolved = store.Resolve("resnet18");

        Assert.That(resolved.How, Is.EqualTo(BackboneLocation.Downloaded));
        Assert.That(resolved.Reason, Does.StartWith("resnet18: ML.NET's ResNet-18 from the NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1 downloaded from "));
        Assert.That(resolved.Sha256, Is.EqualTo(fromFolder), "the same package gives the same combined graph, byte for byte");
        Assert.That(CacheFiles().Select(Path.GetFileName), Is.EquivalentTo(new[] { Path.GetFileName(resolved.FilePath), Path.GetFileName(resolved.FilePath) + ".sha256" }),
            "the .nupkg is not kept");
        Assert.That(Directory.GetFileSystemEntries(emptyGlobal), Is.Empty, "the global packages folder is only read");
    }

    [Test]
    public void AFeedServingOtherFiles_IsRefusedWithBothHashes_AndNothingIsCached()
    {
        var feed = Path.Combine(Root, "feed");
        NuGetTestPackages.WriteFakeNupkg(feed, OnnxFixtures.Bytes(OnnxFixtures.TinyHeadless()), OnnxFixtures.Bytes(OnnxFixtures.TinyPreprocess()));
        var settings = NuGetTestPackages.WriteNuGetConfig(Path.Combine(Root, "project"), feed);
        using var store = NuGetStore(globalFolder: Path.Combine(Root, "empty-global"), settingsRoot: settings);

        var ex = Assert.Throws<BackboneIntegrityException>(() => store.Resolve("resnet18"));

        Assert.That(ex!.What, Does.Contain("tools/DnnImageModels/ResNet18Onnx/ResNet18.onnx").And.Contain(NuGetTestPackages.ResNet18.Model.Sha256));
        var actual = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(OnnxFixtures.Bytes(OnnxFixtures.TinyHeadless())));
        Assert.That(ex.What, Does.Contain(actual));
        Assert.That(ex.Where, Does.Contain(feed));
        Assert.That(ex.Fix, Does.Contain("Nothing was cached").And.Contain("local-test-feed"));
        Assert.That(CacheFiles(), Is.Empty);
    }

    [Test]
    public void AnAlteredInstalledPackage_IsRefused_AndTheFixSaysToRestoreIt()
    {
        var global = Path.Combine(Root, "global");
        var folder = Path.Combine(global, NuGetTestPackages.ResNet18.Id.ToLowerInvariant(), NuGetTestPackages.ResNet18.Version);
        foreach (var file in new[] { NuGetTestPackages.ResNet18.Model, NuGetTestPackages.ResNet18.Preprocess! })
        {
            var path = Path.Combine(folder, file.Path);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllBytes(path, OnnxFixtures.Bytes(OnnxFixtures.TinyPreprocess()));
        }
        File.WriteAllText(Path.Combine(folder, ".nupkg.metadata"), "{}");
        using var store = NuGetStore(globalFolder: global);

        var ex = Assert.Throws<BackboneIntegrityException>(() => store.Resolve("resnet18"));

        Assert.That(ex!.What, Does.Contain("does not match its catalog record").And.Contain(NuGetTestPackages.ResNet18.Model.Sha256));
        Assert.That(ex.Fix, Does.Contain("delete its folder and restore"));
        Assert.That(CacheFiles(), Is.Empty);
    }

    [Test]
    public void ACachedCombinedGraphThatNoLongerMatchesItsRecordedHash_IsRebuilt()
    {
        string path;
        using (var store = NuGetStore())
            path = store.Resolve("resnet18").FilePath;
        var bytes = File.ReadAllBytes(path);
        bytes[^10] ^= 0xFF;
        File.WriteAllBytes(path, bytes);

        using var again = NuGetStore();
        var verify = again.Verify().Where(v => v.Name == "resnet18").ToList();
        Assert.That(verify.Single(v => v.Location == BackboneLocation.Cache).Status, Is.EqualTo(VerifyStatus.Mismatch));
        Assert.That(verify.Where(v => v.Location == BackboneLocation.NuGetPackage).Select(v => v.Status), Is.EqualTo(new[] { VerifyStatus.Ok, VerifyStatus.Ok }));

        var rebuilt = again.Resolve("resnet18");
        Assert.That(rebuilt.How, Is.EqualTo(BackboneLocation.NuGetPackage));
        Assert.That(LogLines, Has.Some.Contains("rebuilding it"));
        Assert.That(File.ReadAllText(path + ".sha256").Trim(), Is.EqualTo(BackboneFileVerifier.ComputeSha256(path)));
    }

    [Test]
    public void NoPackageAnywhere_AndDownloadsDisabled_SaysHowToGetIt()
    {
        using var store = NuGetStore(globalFolder: Path.Combine(Root, "empty-global"), allowDownload: false);

        var ex = Assert.Throws<MLTransferException>(() => store.Resolve("resnet18"));

        Assert.That(ex!.What, Does.Contain("NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1"));
        Assert.That(ex.Where, Does.Contain("empty-global"));
        Assert.That(ex.Fix, Does.Contain("mltransfer backbones pull resnet18").And.Contain("dotnet restore"));
    }

    [Test]
    public void TheTestProjectRestoresThePackage_WithoutCopyingItsModelsIntoTheOutput()
    {
        Assert.That(File.Exists(NuGetTestPackages.InstalledFile(NuGetTestPackages.ResNet18.Model)), Is.True);
        var copied = Directory.GetFiles(TestContext.CurrentContext.TestDirectory, "*.onnx", SearchOption.AllDirectories);
        Assert.That(copied.Select(Path.GetFileName), Has.None.EqualTo("ResNet18.onnx").And.None.EqualTo("ResNetPreprocess.onnx"));
        Assert.That(Directory.Exists(Path.Combine(TestContext.CurrentContext.TestDirectory, "DnnImageModels")), Is.False);
        Assert.That(File.Exists(Path.Combine(TestContext.CurrentContext.TestDirectory, "Microsoft.ML.DnnImageFeaturizer.ResNet18.dll")), Is.False);
    }
}
