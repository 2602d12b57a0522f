using System.IO.Compression;
using System.Xml.Linq;
using NUnit.Framework;

namespace MLTransfer.Tests.Packaging;

/// <summary>What the packed packages hold: NuGet metadata, XML docs, symbols, and one runtime per tool package.</summary>
[TestFixture, Category(PackedPackages.Category), NonParallelizable]
public class PackageContentTests
{
    private static XElement Nuspec(string nupkg)
    {
        using var zip = ZipFile.OpenRead(nupkg);
        using var stream = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open();
        return XDocument.Load(stream).Root!.Elements().Single(e => e.Name.LocalName == "metadata");
    }

    private static string? Field(XElement metadata, string name) => metadata.Elements().FirstOrDefault(e => e.Name.LocalName == name)?.Value;

    [Test]
    public void The_library_package_has_metadata_docs_readme_symbols_and_served_dependencies()
    {
        var packed = PackedPackages.Get();
        var nupkg = packed.Package("MLTransfer");
        var metadata = Nuspec(nupkg);
        Assert.That(Field(metadata, "description"), Does.Contain("Transfer learning").And.Not.EqualTo("Package Description"));
        Assert.That(Field(metadata, "license"), Is.EqualTo("MIT"));
        Assert.That(Field(metadata, "readme"), Is.EqualTo("README.md"));
        Assert.That(Field(metadata, "tags"), Does.Contain("transfer-learning"));
        Assert.That(Field(metadata, "releaseNotes"), Is.Not.Empty);
        var dependencies = metadata.Descendants().Where(e => e.Name.LocalName == "dependency").ToDictionary(e => e.Attribute("id")!.Value, e => e.Attribute("version")!.Value);
        Assert.That(dependencies["SkiaSharp"], Is.EqualTo("2.88.9"), "a version the feeds serve, so consumers get no NU1603");
        using (var zip = ZipFile.OpenRead(nupkg))
            Assert.That(zip.Entries.Select(e => e.FullName), Is.SupersetOf(new[] { "README.md", "lib/net10.0/MLTransfer.dll", "lib/net10.0/MLTransfer.xml" }));
        using (var symbols = ZipFile.OpenRead(packed.Package("MLTransfer", "snupkg")))
            Assert.That(symbols.Entries.Select(e => e.FullName), Does.Contain("lib/net10.0/MLTransfer.pdb"));
        TestContext.Out.WriteLine($"MLTransfer nupkg: {new FileInfo(nupkg).Length:N0} bytes");
    }

    [Test]
    public void The_tool_is_one_small_pointer_and_one_package_per_runtime()
    {
        var packed = PackedPackages.Get();
        var pointer = packed.Package("MLTransfer.Tool");
        using (var zip = ZipFile.OpenRead(pointer))
        {
            var settings = XDocument.Load(zip.GetEntry("tools/any/any/DotnetToolSettings.xml")!.Open());
            Assert.That(settings.Descendants().Where(e => e.Name.LocalName == "RuntimeIdentifierPackage").Select(e => e.Attribute("RuntimeIdentifier")!.Value),
                Is.EqualTo(new[] { PackedPackages.ToolRuntime }));
        }
        var runtime = packed.Package($"MLTransfer.Tool.{PackedPackages.ToolRuntime}");
        using (var zip = ZipFile.OpenRead(runtime))
        {
            var natives = zip.Entries.Select(e => e.FullName).Where(n => n.EndsWith(".so", StringComparison.Ordinal) || n.EndsWith(".dll", StringComparison.Ordinal) && n.Contains("onnxruntime") || n.EndsWith(".dylib", StringComparison.Ordinal)).ToList();
            Assert.That(natives, Has.Some.EndsWith("libonnxruntime.so").And.Some.EndsWith("libSkiaSharp.so"));
            Assert.That(natives, Has.None.Contain("win-").And.None.Contain("osx-").And.None.EndsWith(".dylib").And.None.EndsWith("onnxruntime.dll"),
                "only this runtime's native libraries");
        }
        var size = new FileInfo(runtime).Length;
        TestContext.Out.WriteLine($"MLTransfer.Tool pointer: {new FileInfo(pointer).Length:N0} bytes; {PackedPackages.ToolRuntime}: {size:N0} bytes");
        Assert.That(size, Is.LessThan(60L << 20), "far below nuget.org's 250 MB limit (one package for every runtime was 192 MiB)");
    }
}
