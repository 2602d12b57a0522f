using MLTransfer.Backbones;
using MLTransfer.Backbones.Catalog;
using MLTransfer.Images;
using NUnit.Framework;

namespace MLTransfer.Tests.Backbones.Catalog;

[TestFixture]
public sealed class BackboneCatalogTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "mltransfer-catalog-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string Write(string json)
    {
        var path = Path.Combine(_dir, "backbones.json");
        File.WriteAllText(path, json);
        return path;
    }

    [Test]
    public void BuiltIns_AreOrderedUniqueAndWellFormed()
    {
        var names = BackboneCatalog.BuiltIn.Names;
        Assert.That(names.Take(5), Is.EqualTo(new[] { "mobilenet-v2", "resnet18", "mobilenet-v1-0.75-192", "resnet50", "resnet18-v2" }));
        Assert.That(names, Is.Unique);
        Assert.That(names, Does.Contain("inception-v1"));
        foreach (var d in BackboneCatalog.BuiltIn.Entries)
        {
            if (d.Package is { } p)
            {
                Assert.That(new[] { p.Model.Sha256, p.Preprocess!.Sha256 }, Has.All.Match("^[0-9a-f]{64}$"), d.Name);
                Assert.That(d.Sha256, Is.Null, $"{d.Name}: the combined graph's hash is an output, not a record");
            }
            else
            {
                Assert.That(d.Sha256, Does.Match("^[0-9a-f]{64}$"), d.Name);
                Assert.That(d.SizeBytes, Is.GreaterThan(0), d.Name);
                Assert.That(d.InputName, Is.Not.Null, d.Name);
            }
            Assert.That(d.Mean, Has.Count.EqualTo(3), d.Name);
            Assert.That(d.Std, Has.Count.EqualTo(3).And.None.EqualTo(0f), d.Name);
            Assert.That(d.Source, Is.Not.Null.And.Not.Empty, d.Name);
            Assert.That(d.Licence, Is.Not.Null.And.Not.Empty, d.Name);
            Assert.That(d.FeatureSize, Is.GreaterThan(0), d.Name);
            Assert.That(d.Urls, Has.All.StartWith("https://"), d.Name);
        }
    }

    [Test]
    public void BuiltIn_MobileNetV2_MatchesTheSharedModelsReadme()
    {
        var d = BackboneCatalog.BuiltIn.Find("mobilenet-v2");
        Assert.That(d.FileName, Is.EqualTo("mobilenet_v2_1.0_224.onnx"));
        Assert.That(d.Urls, Is.Empty);
        Assert.That(d.SizeBytes, Is.EqualTo(13_992_377));
        Assert.That(d.InputName, Is.EqualTo("input"));
        Assert.That((d.InputWidth, d.InputHeight), Is.EqualTo((224, 224)));
        Assert.That(d.ResizeMode, Is.EqualTo(ResizeMode.Fill));
        Assert.That(d.ChannelOrder, Is.EqualTo(ChannelOrder.Rgb));
        Assert.That(d.Mean, Is.EqualTo(new[] { 0.5f, 0.5f, 0.5f }));
        Assert.That(d.Std, Is.EqualTo(new[] { 0.5f, 0.5f, 0.5f }));
        Assert.That(d.FeatureTensor, Is.EqualTo("features"));
        Assert.That(d.FeatureSize, Is.EqualTo(1280));

        var v1 = BackboneCatalog.BuiltIn.Find("mobilenet-v1-0.75-192");
        Assert.That((v1.InputWidth, v1.InputHeight, v1.FeatureSize), Is.EqualTo((192, 192, 768)));
    }

    [Test]
    public void BuiltIn_ResNet50_MatchesTheSharedModelsReadme()
    {
        var d = BackboneCatalog.BuiltIn.Find("resnet50");
        Assert.That(d.FileName, Is.EqualTo("resnet50_keras_224.onnx"));
        Assert.That(d.Urls, Is.Empty);
        Assert.That(d.Sha256, Is.EqualTo("17612e103380f016f88199f2f0bff1c0a48690dc309f550e18ded9f47d83b62b"));
        Assert.That(d.SizeBytes, Is.EqualTo(102_140_034));
        Assert.That((d.InputWidth, d.InputHeight, d.ResizeMode, d.ChannelOrder), Is.EqualTo((224, 224, ResizeMode.Fill, ChannelOrder.Rgb)));
        Assert.That(d.Mean, Is.EqualTo(new[] { 0.5f, 0.5f, 0.5f }));
        Assert.That(d.Std, Is.EqualTo(new[] { 0.5f, 0.5f, 0.5f }));
        Assert.That((d.FeatureTensor, d.FeatureSize), Is.EqualTo(("features", 2048)));
        Assert.That(d.Licence, Is.EqualTo("MIT"));
    }

    [Test]
    public void BuiltIn_ResNet18_IsMLNetsNuGetPackage_WithTheChecksumsOfTheSharedModelsReadme()
    {
        var d = BackboneCatalog.BuiltIn.Find("resnet18");
        Assert.That(d.Package!.Id, Is.EqualTo("Microsoft.ML.DnnImageFeaturizer.ResNet18"));
        Assert.That(d.Package.Version, Is.EqualTo("0.23.1"));
        Assert.That(d.Package.Model, Is.EqualTo(new BackbonePackageFile("tools/DnnImageModels/ResNet18Onnx/ResNet18.onnx",
            "e2552f19db2dfdb01b3669537b6a0f1b44da38d18279535492ed5dfc2ef1ff8f", 63_653_533)));
        Assert.That(d.Package.Preprocess, Is.EqualTo(new BackbonePackageFile("tools/DnnImageModels/ResNetPrepOnnx/ResNetPreprocess.onnx",
            "84bf8def78d0befaa3f6e73745d57d7016c6a192ead76f79686bd438c1047004", 602_584)));
        // The package's own graph subtracts the mean from raw 0..255 RGB: MLTransfer must not normalise again.
        Assert.That(d.Mean, Is.EqualTo(new[] { 0f, 0f, 0f }));
        Assert.That(d.Std.Select(s => s * 255f), Is.All.EqualTo(1f).Within(1e-6f));
        Assert.That((d.FeatureTensor, d.FeatureSize, d.Licence), Is.EqualTo(((string?)null, (int?)512, "MIT")));
        Assert.That(BuiltInBackbones.DownloadFallbackName, Is.EqualTo("resnet18"));
    }

    [Test]
    public void UserCatalog_PackageRecords_AreValidated()
    {
        var path = Write("""
            [ { "name": "x", "fileName": "x.onnx", "package": { "id": "Some.Package", "version": "1.0",
                "model": { "path": "../escape.onnx", "sha256": "00", "sizeBytes": 1 } } } ]
            """);
        var ex = Assert.Throws<MLTransferException>(() => BackboneCatalog.Load(path));
        Assert.That(ex!.Message, Does.Contain("'package.model.path' must be a relative path inside the package"));
    }

    [Test]
    public void EveryBuiltIn_SaysWhetherItWasVerifiedHere()
    {
        var verified = BackboneCatalog.BuiltIn.Entries.Where(d => d.Verified).Select(d => d.Name);
        Assert.That(verified, Is.EquivalentTo(new[] { "mobilenet-v2", "resnet18", "mobilenet-v1-0.75-192", "resnet50" }));
        foreach (var d in BackboneCatalog.BuiltIn.Entries)
        {
            Assert.That(d.VerificationNote, Is.Not.Null.And.Not.Empty, d.Name);
            if (!d.Verified)
                Assert.That(d.VerificationNote, Does.StartWith("record only"), d.Name);
        }
        Assert.That(BackboneCatalog.BuiltIn.Find("resnet50-v2").VerificationNote, Does.Contain("'resnet50'"));
    }

    [Test]
    public void BuiltIn_ZooModels_HaveMediaUrlFirstAndRawFallback()
    {
        var r = BackboneCatalog.BuiltIn.Find("resnet18-v2");
        Assert.That(r.Urls, Is.EqualTo(new[]
        {
            "https://media.githubusercontent.com/media/onnx/models/main/validated/vision/classification/resnet/model/resnet18-v2-7.onnx",
            "https://github.com/onnx/models/raw/main/validated/vision/classification/resnet/model/resnet18-v2-7.onnx",
        }));
        Assert.That(r.ResizeMode, Is.EqualTo(ResizeMode.IsoCrop));
        Assert.That(r.InputName, Is.EqualTo("data"));

        var inception = BackboneCatalog.BuiltIn.Find("inception-v1");
        Assert.That(inception.InputName, Is.EqualTo("data_0"));
        Assert.That(inception.ChannelOrder, Is.EqualTo(ChannelOrder.Bgr));
        // (pixel/255 - mean) / std == pixel - 255*mean: blue plane first, Caffe means, no scaling.
        Assert.That(inception.Mean[0] * 255f, Is.EqualTo(103.939f).Within(1e-3f));
        Assert.That(inception.Std[0] * 255f, Is.EqualTo(1f).Within(1e-6f));
    }

    [Test]
    public void Find_IsCaseInsensitive_AndUnknownNameListsKnownNames()
    {
        Assert.That(BackboneCatalog.BuiltIn.Find("MobileNet-V2").Name, Is.EqualTo("mobilenet-v2"));

        var ex = Assert.Throws<MLTransferException>(() => BackboneCatalog.BuiltIn.Find("vgg-99"));
        Assert.That(ex!.What, Does.Contain("Unknown backbone 'vgg-99'"));
        foreach (var name in BackboneCatalog.BuiltIn.Names) Assert.That(ex.What, Does.Contain(name));
        Assert.That(ex.Fix, Does.Contain(".onnx"));
    }

    [Test]
    public void UserCatalog_OverridesBuiltInsByName_AndAppendsNewRecords()
    {
        var path = Write("""
            {
              // comments are allowed
              "backbones": [
                {
                  "name": "my-net",
                  "fileName": "my-net.onnx",
                  "urls": ["https://example.org/my-net.onnx"],
                  "sha256": "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789",
                  "sizeBytes": 1234,
                  "inputWidth": 160,
                  "inputHeight": 160,
                  "resizeMode": "IsoPad",
                  "channelOrder": "bgr",
                  "mean": [0, 0, 0],
                  "std": [1, 1, 1],
                  "featureSize": 64,
                },
                {
                  "name": "RESNET18-V2",
                  "fileName": "resnet18-local.onnx",
                  "inputName": "data",
                  "resizeMode": "Fill"
                }
              ]
            }
            """);

        var catalog = BackboneCatalog.Load(path);

        Assert.That(catalog.UserCatalogPath, Is.EqualTo(path));
        var builtInNames = BackboneCatalog.BuiltIn.Names;
        Assert.That(catalog.Entries, Has.Count.EqualTo(builtInNames.Count + 1));
        var position = builtInNames.ToList().IndexOf("resnet18-v2");
        Assert.That(catalog.Entries[position].FileName, Is.EqualTo("resnet18-local.onnx"), "override keeps the built-in position");
        Assert.That(catalog.Entries[position].ResizeMode, Is.EqualTo(ResizeMode.Fill));
        Assert.That(catalog.Entries[position].Sha256, Is.Null, "an override replaces the whole record");
        Assert.That(catalog.Find("resnet18-v2").FileName, Is.EqualTo("resnet18-local.onnx"));

        var mine = catalog.Entries[^1];
        Assert.That(mine.Name, Is.EqualTo("my-net"));
        Assert.That(mine.Sha256, Is.EqualTo("abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789"));
        Assert.That(mine.ResizeMode, Is.EqualTo(ResizeMode.IsoPad));
        Assert.That(mine.ChannelOrder, Is.EqualTo(ChannelOrder.Bgr));
        Assert.That(mine.InputWidth, Is.EqualTo(160));
        Assert.That(mine.FeatureSize, Is.EqualTo(64));
        Assert.That(mine.Family, Is.EqualTo("custom"), "unspecified fields keep the record defaults");
    }

    [Test]
    public void UserCatalog_BareArrayIsAccepted()
    {
        var path = Write("""[ { "name": "a", "fileName": "a.onnx" } ]""");
        Assert.That(BackboneCatalog.Load(path).Names[^1], Is.EqualTo("a"));
    }

    [Test]
    public void Json_RoundTripsTheBuiltIns()
    {
        var json = BackboneCatalog.ToJson(BackboneCatalog.BuiltIn.Entries);
        Assert.That(json, Does.Contain("\"fileName\"").And.Contain("\"IsoCrop\"").And.Contain("\"Bgr\""));

        var parsed = BackboneCatalog.ParseJson(json);

        Assert.That(BackboneCatalog.ToJson(parsed), Is.EqualTo(json));
    }

    [TestCase("""{ "backbones": [ { "name": "x" } ] }""", "fileName")]
    [TestCase("""{ "backbones": [ { "name": "x", "fileName": "x.onnx", "sha256": "12" } ] }""", "64 hex digits")]
    [TestCase("""{ "backbones": [ { "name": "x", "fileName": "../x.onnx" } ] }""", "bare file name")]
    [TestCase("""{ "backbones": [ { "name": "x", "fileName": "x.onnx", "std": [1, 0, 1] } ] }""", "std")]
    [TestCase("""{ "backbones": [ { "name": "x", "fileName": "x.onnx", "urls": ["ftp://a/b"] } ] }""", "http(s)")]
    [TestCase("""{ "backbones": [ { "name": "x", "fileName": "x.onnx", "resizeMode": "Zoom" } ] }""", "resizeMode")]
    [TestCase("""{ "backbones": [ { "name": "x", "fileName": "x.onnx", "colour": "red" } ] }""", "colour")]
    [TestCase("""{ "backbones": [ { "name": "x", "fileName": "x.onnx" }, { "name": "X", "fileName": "y.onnx" } ] }""", "more than once")]
    [TestCase("""{ "backbones": [ { "name": "x", """, "not valid JSON")]
    [TestCase("42", "top level")]
    public void UserCatalog_InvalidContent_IsAClearErrorNamingTheFile(string json, string expected)
    {
        var path = Write(json);

        var ex = Assert.Throws<MLTransferException>(() => BackboneCatalog.Load(path));

        Assert.That(ex!.Where, Is.EqualTo(path));
        Assert.That(ex.Message, Does.Contain(expected));
    }

    [Test]
    public void Load_MissingExplicitFile_IsAnError()
    {
        var ex = Assert.Throws<MLTransferException>(() => BackboneCatalog.Load(Path.Combine(_dir, "missing.json")));
        Assert.That(ex!.What, Does.Contain("does not exist"));
    }

    [Test, NonParallelizable]
    public void Load_UsesEnvironmentVariable_ThenDefaultLocation()
    {
        var savedCatalog = Environment.GetEnvironmentVariable(BackboneCatalog.CatalogEnvironmentVariable);
        var savedXdg = Environment.GetEnvironmentVariable("XDG_CONFIG_HOME");
        try
        {
            var envFile = Write("""[ { "name": "from-env", "fileName": "e.onnx" } ]""");
            Environment.SetEnvironmentVariable(BackboneCatalog.CatalogEnvironmentVariable, envFile);
            Environment.SetEnvironmentVariable("XDG_CONFIG_HOME", Path.Combine(_dir, "config"));
            Assert.That(BackboneCatalog.Load().Names, Does.Contain("from-env"));

            Environment.SetEnvironmentVariable(BackboneCatalog.CatalogEnvironmentVariable, null);
            Assert.That(BackboneCatalog.DefaultUserCatalogPath(),
                Is.EqualTo(Path.Combine(_dir, "config", "mltransfer", "backbones.json")));
            Assert.That(BackboneCatalog.Load().Names, Is.EqualTo(BackboneCatalog.BuiltIn.Names), "absent default file: built-ins only");

            Directory.CreateDirectory(Path.Combine(_dir, "config", "mltransfer"));
            File.WriteAllText(BackboneCatalog.DefaultUserCatalogPath(), """[ { "name": "from-xdg", "fileName": "x.onnx" } ]""");
            Assert.That(BackboneCatalog.Load().Names, Does.Contain("from-xdg"));
        }
        finally
        {
            Environment.SetEnvironmentVariable(BackboneCatalog.CatalogEnvironmentVariable, savedCatalog);
            Environment.SetEnvironmentVariable("XDG_CONFIG_HOME", savedXdg);
        }
    }
}
