using System.Diagnostics;
using NUnit.Framework;

namespace MLTransfer.Tests.Fixtures;

/// <summary>Runs the real <c>mltransfer</c> CLI in a child process (a fresh process, as a user would).</summary>
public static class CliRunner
{
    /// <summary>Exit code and captured output of one run.</summary>
    public sealed record Result(int ExitCode, string StdOut, string StdErr)
    {
        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{StdOut}\n--- stderr\n{StdErr}";
    }

    /// <summary>
    /// Environment that points the child's caches at <paramref name="cacheHome"/> and clears the offline
    /// backbone folder, so it neither reads nor writes the user's own state.
    /// </summary>
    public static Dictionary<string, string> Isolated(string cacheHome) => new()
    {
        ["XDG_CACHE_HOME"] = cacheHome,
        ["HOME"] = cacheHome,
        ["MLTRANSFER_BACKBONE_DIR"] = "",
    };

    /// <summary>
    /// The CLI as its own build output lays it out (bin/&lt;configuration&gt;/net10.0 of MLTransfer.Cli, built with the
    /// tests): the test folder's copy runs with the tests' dependencies, which lack what the ASP.NET framework
    /// provides the tests but a tool install ships.
    /// </summary>
    public static string CliDll { get; } = FindCliDll();

    private static string FindCliDll()
    {
        var testDir = TestContext.CurrentContext.TestDirectory;
        var (framework, configuration) = (Path.GetFileName(testDir), Path.GetFileName(Path.GetDirectoryName(testDir)!));
        var own = Path.Combine(TestPaths.RepoRoot, "src", "MLTransfer.Cli", "bin", configuration, framework, "MLTransfer.Cli.dll");
        return File.Exists(own) ? own : Path.Combine(testDir, "MLTransfer.Cli.dll");
    }

    /// <summary>Runs the CLI with <paramref name="args"/>; fails the test if it takes longer than <paramref name="timeout"/>.</summary>
    /// <param name="args">Command-line arguments.</param>
    /// <param name="timeout">Time limit (default 4 minutes).</param>
    /// <param name="environment">Extra environment variables.</param>
    /// <param name="workingDirectory">Working directory (default: the test output folder).</param>
    /// <param name="wrapper">A command to run the CLI under, e.g. <c>setpriv --reuid nobody ...</c>.</param>
    public static Result Run(IEnumerable<string> args, TimeSpan? timeout = null, IDictionary<string, string>? environment = null,
        string? workingDirectory = null, IReadOnlyList<string>? wrapper = null)
    {
        var dll = CliDll;
        // Behind a wrapper (another user), "dotnet" must be an absolute path the wrapper can exec.
        var dotnet = File.Exists("/usr/share/dotnet/dotnet") ? "/usr/share/dotnet/dotnet" : "dotnet";
        var command = new List<string>(wrapper ?? []) { dotnet, dll };
        command.AddRange(args);
        var start = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? TestContext.CurrentContext.TestDirectory,
        };
        foreach (var a in command.Skip(1))
            start.ArgumentList.Add(a);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
            start.Environment[k] = v;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(4)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"mltransfer {string.Join(' ', args)} did not finish in time");
        }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }
}
