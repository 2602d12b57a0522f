using System.Diagnostics;
using System.Globalization;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;

namespace MLTransfer.Tests.Packaging;

/// <summary>
/// Packs the library and the tool once per test run into a local folder feed, as a release would (Release,
/// symbols, the tool for this machine's runtime), and gives consumers a NuGet.Config that sees only that feed
/// plus the packages already restored on the machine: no network, and no project reference to the source.
/// </summary>
/// <remarks>
/// The version is unique to the run (<c>1.0.0-test.&lt;time&gt;</c>), so no copy restored by an earlier run or a
/// developer can stand in for the package just built; the build goes to its own artifacts folder, so the
/// source tree's bin/ and obj/ are left alone.
/// </remarks>
public static class PackedPackages
{
    /// <summary>Category of the tests that pack and install: slow (minutes), run in CI, and bounded by their time limits.</summary>
    public const string Category = "Packaging";

    /// <summary>The runtime the tool is packed for in tests: this machine's.</summary>
    public const string ToolRuntime = "linux-x64";

    private static readonly Lazy<Packed> Lazy = new(Pack, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The packages of this run, packed on first use.</summary>
    public static Packed Get() => Lazy.Value;

    /// <summary>Deletes the run's folder (feed, builds, installed tool), if anything was packed.</summary>
    internal static void CleanUp()
    {
        if (Lazy.IsValueCreated)
            try { Directory.Delete(Lazy.Value.Root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>Where the packages are.</summary>
    /// <param name="Root">Temporary folder of the run (feed, artifacts, NuGet.Config, package cache).</param>
    /// <param name="Feed">The local folder feed holding the .nupkg and .snupkg files.</param>
    /// <param name="Version">The version packed.</param>
    /// <param name="NuGetConfig">A NuGet.Config with the feed added to the machine's sources and the machine's packages as a fallback folder.</param>
    public sealed record Packed(string Root, string Feed, string Version, string NuGetConfig)
    {
        /// <summary>A package file of the feed, e.g. <c>MLTransfer</c> → <c>MLTransfer.1.0.0-test.….nupkg</c>.</summary>
        public string Package(string id, string extension = "nupkg") => Path.Combine(Feed, $"{id}.{Version}.{extension}");
    }

    private static Packed Pack()
    {
        var root = Directory.CreateTempSubdirectory("mlt-pack-").FullName;
        var feed = Path.Combine(root, "feed");
        var version = "1.0.0-test." + DateTime.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
        var artifacts = Path.Combine(root, "artifacts");
        foreach (var (project, extra) in new[]
        {
            ("src/MLTransfer/MLTransfer.csproj", Array.Empty<string>()),
            // One runtime, as each release package holds one; the release packs all four in the same way.
            // (RuntimeIdentifiers follows it in the project; given globally it would reach the library's build too,
            // and ONNX Runtime's build step then copies its Windows DLL into the Linux package.)
            ("src/MLTransfer.Cli/MLTransfer.Cli.csproj", new[] { $"-p:ToolPackageRuntimeIdentifiers={ToolRuntime}" }),
        })
        {
            var result = Dotnet(TestPaths.RepoRoot, TimeSpan.FromMinutes(8), null,
                ["pack", project, "-c", "Release", "-o", feed, "--artifacts-path", artifacts, $"-p:Version={version}", "-nologo", .. extra]);
            Assert.That(result.ExitCode, Is.Zero, $"dotnet pack {project} failed:\n{result}");
        }
        var fallback = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p ? p
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        // The feed comes first; the machine's own sources stay, as in a reader's setup, for packages the README asks
        // them to add (Microsoft.Extensions.Hosting) that nothing here has restored before.
        var config = Path.Combine(root, "NuGet.Config");
        File.WriteAllText(config, $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config><add key="globalPackagesFolder" value="{Path.Combine(root, "packages")}" /></config>
              <packageSources><add key="local" value="{feed}" /></packageSources>
              <fallbackPackageFolders><clear /><add key="machine" value="{fallback}" /></fallbackPackageFolders>
            </configuration>
            """);
        return new Packed(root, feed, version, config);
    }

    /// <summary>Runs <c>dotnet</c> with telemetry and first-run output off; fails the test past <paramref name="timeout"/>.</summary>
    public static CliRunner.Result Dotnet(string workingDirectory, TimeSpan timeout, IDictionary<string, string>? environment, IEnumerable<string> args) =>
        Run("dotnet", workingDirectory, timeout, environment, args);

    /// <summary>Runs a program and captures its output; fails the test past <paramref name="timeout"/>.</summary>
    public static CliRunner.Result Run(string program, string workingDirectory, TimeSpan timeout, IDictionary<string, string>? environment, IEnumerable<string> args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory };
        foreach (var a in args)
            start.ArgumentList.Add(a);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        start.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        // The test host's own MSBuild settings must not leak into the child builds.
        foreach (var name in new[] { "MSBuildExtensionsPath", "MSBUILD_EXE_PATH", "MSBuildSDKsPath", "DOTNET_HOST_PATH" })
            start.Environment.Remove(name);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
            start.Environment[k] = v;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{program} {string.Join(' ', args)} did not finish within {timeout}");
        }
        return new CliRunner.Result(process.ExitCode, stdout.Result, stderr.Result);
    }
}
