using System.Text.RegularExpressions;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;

namespace MLTransfer.Tests.Packaging;

/// <summary>
/// The README's C# runs as printed: each fenced <c>csharp</c> block becomes the Program.cs of a fresh console
/// project that references the packed MLTransfer package from a local folder feed (no project reference),
/// configured as the README tells a user (<c>MLTRANSFER_BACKBONE_DIR</c>), with <c>photos/</c> and
/// <c>some.jpg</c> beside it. It must build without warnings, train, save, load and predict.
/// </summary>
[TestFixture, Category(PackedPackages.Category), NonParallelizable]
public class ReadmeSnippetTests
{
    /// <summary>The README's fenced C# blocks, in order.</summary>
    public static List<string> CSharpBlocks() =>
        Regex.Matches(File.ReadAllText(Path.Combine(TestPaths.RepoRoot, "README.md")), "```csharp\n(.*?)```", RegexOptions.Singleline)
            .Select(m => m.Groups[1].Value).ToList();

    [Test]
    public void The_readme_has_the_three_programs_this_test_runs() =>
        Assert.That(CSharpBlocks(), Has.Count.EqualTo(3), "a new C# block in the README needs its expectations below");

    // What each block must print once it has trained, saved, loaded and predicted.
    // "a|b": either (the first program prints the answer, or why the model abstains).
    [TestCase(0, new[] { "test accuracy ", "; top: |no answer (" }, "models/photos.zip")]
    // The generic-host program: a model where its appsettings.json points, one decodable and one truncated picture.
    [TestCase(1, new[] { "batch: ", "batch: no answer (" }, "models/photos.zip")]
    [TestCase(2, new[] { "accuracy ", "ML.NET: ", "ImageClassifier: " }, "models/photos-mlp.zip")]
    public void A_readme_program_builds_against_the_package_and_runs(int block, string[] printed, string model)
    {
        var packed = PackedPackages.Get();
        var dir = Path.Combine(packed.Root, $"readme-{block}");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "Program.cs"), CSharpBlocks()[block]);
        // The host program needs the generic host package, as the README tells its reader.
        var hosting = block == 1 ? "<PackageReference Include=\"Microsoft.Extensions.Hosting\" Version=\"10.0.0\" />" : "";
        if (block == 1)
        {
            Directory.CreateDirectory(Path.Combine(dir, "models"));
            File.Copy(Service.ServiceModels.First, Path.Combine(dir, "models", "photos.zip"), overwrite: true);
            File.WriteAllText(Path.Combine(dir, "appsettings.json"), """{ "Classifier": { "ModelPath": "models/photos.zip" } }""");
        }
        File.WriteAllText(Path.Combine(dir, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <ImplicitUsings>enable</ImplicitUsings>
                <Nullable>enable</Nullable>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="MLTransfer" Version="{packed.Version}" />
                {hosting}
              </ItemGroup>
            </Project>
            """);
        File.Copy(packed.NuGetConfig, Path.Combine(dir, "NuGet.Config"), overwrite: true);
        // The data the README's text describes: photos/<class>/*.jpg and one picture to predict.
        var photos = Path.Combine(dir, "photos");
        if (!Directory.Exists(photos))
            Directory.CreateSymbolicLink(photos, TestPaths.SharedDataset("flowers"));
        File.Copy(Directory.GetFiles(Path.Combine(TestPaths.SharedDataset("flowers"), "roses"), "*.jpg").Order(StringComparer.Ordinal).First(),
            Path.Combine(dir, "some.jpg"), overwrite: true);

        var build = PackedPackages.Dotnet(dir, TimeSpan.FromMinutes(6), null, ["build", "-c", "Release", "-nologo"]);
        Assert.That(build.ExitCode, Is.Zero, build.ToString());
        Assert.That(build.StdOut, Does.Contain(" 0 Warning(s)"), "a consumer's build is clean (no NU1603 for SkiaSharp):\n" + build.StdOut);

        var environment = new Dictionary<string, string>
        {
            ["MLTRANSFER_BACKBONE_DIR"] = Path.Combine(TestPaths.SharedDir, "models"),
            // The program's backbone cache and feature workspace stay in the test's folder.
            ["XDG_CACHE_HOME"] = Path.Combine(dir, "cache"),
        };
        var run = PackedPackages.Dotnet(dir, TimeSpan.FromMinutes(8), environment, ["run", "-c", "Release", "--no-build"]);
        Assert.That(run.ExitCode, Is.Zero, run.ToString());
        foreach (var text in printed)
            Assert.That(text.Split('|').Any(run.StdOut.Contains), Is.True, $"prints {text}:\n{run}");
        Assert.That(File.Exists(Path.Combine(dir, model)), model);
    }
}
