using System.Diagnostics;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;

namespace MLTransfer.Tests.FeatureStore;

/// <summary>Starts <c>mltransfer</c> processes side by side, as a scheduler starts the tasks of a job.</summary>
internal static class ShardProcesses
{
    public static Process Start(IEnumerable<string> args, IDictionary<string, string> environment)
    {
        var dll = CliRunner.CliDll;
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = TestContext.CurrentContext.TestDirectory,
        };
        start.ArgumentList.Add(dll);
        foreach (var a in args)
            start.ArgumentList.Add(a);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        foreach (var (k, v) in environment)
            start.Environment[k] = v;
        var process = Process.Start(start)!;
        // Drained as they come so a chatty child never blocks on a full pipe.
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    public static CliRunner.Result Finish(Process process, TimeSpan timeout)
    {
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("an extract task did not finish in time");
        }
        return new CliRunner.Result(process.ExitCode, "", "");
    }
}
