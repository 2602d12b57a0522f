using MLTransfer.Tests.Fixtures;
using NUnit.Framework;

namespace MLTransfer.Tests.Packaging;

/// <summary>
/// The tool as a user gets it: <c>dotnet tool install</c> from the local feed into a temporary tool path
/// (the small top-level package points at this runtime's package), then <c>mltransfer --help</c>, a train on
/// flowers and a batch predict of a folder as CSV.
/// </summary>
[TestFixture, Category(PackedPackages.Category), NonParallelizable]
public class ToolPackageTests
{
    [Test]
    public void The_installed_tool_trains_on_flowers_and_scores_a_folder()
    {
        var packed = PackedPackages.Get();
        var tools = Path.Combine(packed.Root, "tools");
        var install = PackedPackages.Dotnet(packed.Root, TimeSpan.FromMinutes(4), null,
            ["tool", "install", "MLTransfer.Tool", "--version", packed.Version, "--tool-path", tools, "--configfile", packed.NuGetConfig]);
        Assert.That(install.ExitCode, Is.Zero, install.ToString());
        var mltransfer = Path.Combine(tools, "mltransfer");
        var store = Directory.GetDirectories(Path.Combine(tools, ".store"), "*", SearchOption.AllDirectories);
        Assert.That(store.Any(d => Path.GetFileName(d).Equals("mltransfer.tool." + PackedPackages.ToolRuntime, StringComparison.OrdinalIgnoreCase)),
            "the runtime's own package was installed: " + string.Join(", ", store.Select(Path.GetFileName)));

        var help = PackedPackages.Run(mltransfer, packed.Root, TimeSpan.FromMinutes(1), null, ["--help"]);
        Assert.That(help.ExitCode, Is.Zero, help.ToString());
        Assert.That(help.StdOut, Does.Contain("mltransfer [command] [options]"));

        var work = Path.Combine(packed.Root, "tool-run");
        var environment = new Dictionary<string, string>
        {
            ["MLTRANSFER_BACKBONE_DIR"] = Path.Combine(TestPaths.SharedDir, "models"),
            ["XDG_CACHE_HOME"] = Path.Combine(work, "cache"),
        };
        var zip = Path.Combine(work, "flowers.zip");
        var train = PackedPackages.Run(mltransfer, packed.Root, TimeSpan.FromMinutes(6), environment,
            ["train", "--data", TestPaths.SharedDataset("flowers"), "--output", zip, "--quiet"]);
        Assert.That(train.ExitCode, Is.Zero, train.ToString());
        Assert.That(train.StdOut, Does.Contain("Test (never used for training or model selection)"));

        var predict = PackedPackages.Run(mltransfer, packed.Root, TimeSpan.FromMinutes(2), environment,
            ["predict", "--model", zip, "--csv", Path.Combine(TestPaths.SharedDataset("flowers"), "tulips")]);
        Assert.That(predict.ExitCode, Is.Zero, predict.ToString());
        var lines = predict.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines[0].TrimEnd(), Is.EqualTo("image,label,probability,abstention,error,daisy,dandelion,roses,sunflowers,tulips"));
        Assert.That(lines.Skip(1).Count(l => l.Split(',')[1] == "tulips"), Is.GreaterThan(lines.Length / 2), "most tulips are called tulips");
    }
}
