using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;

namespace MLTransfer.Tests.Service;

/// <summary>
/// The service in a child process, as deployed: its memory is its own (the in-process host shares the test
/// runner's, which after the rest of the suite is already over a gigabyte).
/// </summary>
public sealed partial class ServiceProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ServiceProcess(Process process) => _process = process;

    /// <summary>Where it listens.</summary>
    public Uri Address { get; private set; } = null!;

    /// <summary>Everything it wrote to stdout and stderr so far.</summary>
    public string Output => string.Join("\n", _output);

    [GeneratedRegex(@"Now listening on: (http://127\.0\.0\.1:\d+)")]
    private static partial Regex Listening();

    /// <summary>Starts <c>MLTransfer.Service.dll</c> from the test output folder and waits until it listens.</summary>
    public static async Task<ServiceProcess> StartAsync(string modelPath, params string[] extra)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { Path.Combine(TestContext.CurrentContext.TestDirectory, "MLTransfer.Service.dll"), "--model", modelPath, "--urls", "http://127.0.0.1:0" }.Concat(extra))
            start.ArgumentList.Add(a);
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment.Remove("MLTRANSFER_MODEL");
        var service = new ServiceProcess(Process.Start(start)!);
        var process = service._process;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
                return;
            service._output.Enqueue(e.Data);
            if (Listening().Match(e.Data) is { Success: true } m)
                service._listening.TrySetResult(new Uri(m.Groups[1].Value + "/"));
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) service._output.Enqueue(e.Data); };
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => service._listening.TrySetException(new InvalidOperationException($"the service exited with code {process.ExitCode} before listening"));
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            service.Address = await service._listening.Task.WaitAsync(TimeSpan.FromSeconds(60));
            return service;
        }
        catch (Exception e)
        {
            service.Dispose();
            throw new AssertionException($"the service did not start: {e.Message}\n{service.Output}");
        }
    }

    /// <summary>The child's peak resident memory (VmHWM), in bytes.</summary>
    public long PeakBytes() => ProcessMemory.PeakBytes(_process.Id);

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        _process.Dispose();
    }
}
