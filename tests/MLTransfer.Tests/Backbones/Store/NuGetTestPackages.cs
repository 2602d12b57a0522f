using System.IO.Compression;
using System.Text;
using MLTransfer.Backbones;
using MLTransfer.Backbones.Catalog;
using MLTransfer.Tests.Fixtures;
using NuGet.Configuration;
using NUnit.Framework;

namespace MLTransfer.Tests.Backbones.Store;

/// <summary>The real ResNet-18 package in the global packages folder, and fake packages for the failure cases.</summary>
internal static class NuGetTestPackages
{
    public static BackbonePackage ResNet18 => BuiltInBackbones.ResNet18NuGet.Package!;

    /// <summary>
    /// The global packages folder this machine restores into (NUGET_PACKAGES, NuGet.Config or ~/.nuget/packages). The
    /// test project's PackageReference to the ResNet-18 package (ExcludeAssets=all) puts the package there.
    /// </summary>
    public static string GlobalPackagesFolder
    {
        get
        {
            var folder = Path.GetFullPath(SettingsUtility.GetGlobalPackagesFolder(Settings.LoadDefaultSettings(TestPaths.RepoRoot)));
            var marker = Path.Combine(folder, ResNet18.Id.ToLowerInvariant(), ResNet18.Version, ".nupkg.metadata");
            if (!File.Exists(marker))
                Assert.Fail($"{ResNet18.Id} {ResNet18.Version} is not in the global packages folder {folder}; run 'dotnet restore' of the test project");
            return folder;
        }
    }

    /// <summary>A file of the real installed package.</summary>
    public static string InstalledFile(BackbonePackageFile file) =>
        Path.Combine(GlobalPackagesFolder, ResNet18.Id.ToLowerInvariant(), ResNet18.Version, file.Path);

    /// <summary>Writes a .nupkg with the ResNet-18 package's id and version whose two ONNX files have the given content.</summary>
    public static string WriteFakeNupkg(string folder, byte[] model, byte[] preprocess)
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, $"{ResNet18.Id.ToLowerInvariant()}.{ResNet18.Version}.nupkg");
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        void Add(string name, byte[] bytes)
        {
            using var stream = zip.CreateEntry(name).Open();
            stream.Write(bytes);
        }
        Add($"{ResNet18.Id}.nuspec", Encoding.UTF8.GetBytes(
            $"""
            <?xml version="1.0" encoding="utf-8"?>
            <package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
              <metadata>
                <id>{ResNet18.Id}</id>
                <version>{ResNet18.Version}</version>
                <authors>test</authors>
                <description>A package with the right id and version but other files.</description>
              </metadata>
            </package>
            """));
        Add(ResNet18.Model.Path, model);
        Add(ResNet18.Preprocess!.Path, preprocess);
        return path;
    }

    /// <summary>A NuGet.Config whose only feed is <paramref name="feed"/> (a local folder).</summary>
    public static string WriteNuGetConfig(string folder, string feed)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "NuGet.Config"),
            $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local-test-feed" value="{feed}" />
              </packageSources>
            </configuration>
            """);
        return folder;
    }
}
