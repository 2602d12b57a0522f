using System.Diagnostics;
using NUnit.Framework;

namespace MLTransfer.Tests.Fixtures;

/// <summary>Runs the real <c>mltransfer</c> CLI in a child process (a fresh process, as a user would).</summary>
public static class CliRunner
{
    /// <summary>Exit code and captured output of one run.</summary>
    public sealed record Result(int ExitCode, string StdOut, string StdErr);

    /// <summary>Runs the CLI with <paramref name="args"/>; fails the test if it takes longer than <paramref name="timeout"/>.</summary>
    public static Result Run(IEnumerable<string> args, TimeSpan? timeout = null, IDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var dll = Path.Combine(TestContext.CurrentContext.TestDirectory, "MLTransfer.Cli.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory ?? TestContext.CurrentContext.TestDirectory };
        start.ArgumentList.Add(dll);
        foreach (var a in args)
            start.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>())
            start.Environment[k] = v;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout ?? TimeSpan.FromMinutes(3)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"mltransfer {string.Join(' ', args)} did not finish in time");
        }
        return new Result(process.ExitCode, stdout.Result, stderr.Result);
    }
}
