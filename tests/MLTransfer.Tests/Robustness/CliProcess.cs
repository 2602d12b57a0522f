using System.Diagnostics;
using NUnit.Framework;

namespace MLTransfer.Tests.Robustness;

/// <summary>Runs the real <c>mltransfer</c> CLI (the built MLTransfer.Cli.dll) as a child process.</summary>
public static class CliProcess
{
    /// <summary>Outcome of one run.</summary>
    public sealed record Result(int ExitCode, string StdOut, string StdErr)
    {
        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{StdOut}\n--- stderr\n{StdErr}";
    }

    /// <summary>
    /// Runs <c>dotnet MLTransfer.Cli.dll args</c>, optionally behind a wrapper command (e.g. <c>setpriv</c>),
    /// with <c>XDG_CACHE_HOME</c> pointed at <paramref name="cacheHome"/> so the child never touches the user's cache.
    /// </summary>
    public static Result Run(IEnumerable<string> args, string cacheHome, IReadOnlyList<string>? wrapper = null, TimeSpan? timeout = null)
    {
        var dll = Path.Combine(TestContext.CurrentContext.TestDirectory, "MLTransfer.Cli.dll");
        var all = new List<string>();
        if (wrapper is { Count: > 0 }) all.AddRange(wrapper.Skip(1));
        all.Add(File.Exists("/usr/share/dotnet/dotnet") ? "/usr/share/dotnet/dotnet" : "dotnet");
        all.Add(dll);
        all.AddRange(args);
        var psi = new ProcessStartInfo(wrapper is { Count: > 0 } ? wrapper[0] : all[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in wrapper is { Count: > 0 } ? all : all.Skip(1)) psi.ArgumentList.Add(a);
        psi.Environment["XDG_CACHE_HOME"] = cacheHome;
        psi.Environment["HOME"] = cacheHome;
        psi.Environment["MLTRANSFER_BACKBONE_DIR"] = "";
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout ?? TimeSpan.FromMinutes(4)))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"CLI did not finish: {string.Join(' ', args)}");
        }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }
}
