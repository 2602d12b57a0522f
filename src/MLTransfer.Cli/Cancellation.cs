using System.Runtime.InteropServices;

namespace MLTransfer.Cli;

/// <summary>
/// Ctrl-C and SIGTERM cancel the running command instead of killing the process, so finished feature
/// batches reach the cache, nothing half-written is left, and the user is told a rerun continues. A second
/// Ctrl-C kills at once, for a user who does not want to wait.
/// </summary>
internal static class Cancellation
{
    private static readonly CancellationTokenSource Source = new();
    private static PosixSignalRegistration? _sigterm;
    private static int _exitCode = ExitCodes.Interrupted;

    /// <summary>Cancelled when the user interrupts or the system asks the process to stop.</summary>
    public static CancellationToken Token => Source.Token;

    /// <summary>The exit code that reports how the run was stopped (130 for Ctrl-C, 143 for SIGTERM).</summary>
    public static int ExitCode => _exitCode;

    public static void Install()
    {
        Console.CancelKeyPress += (_, e) =>
        {
            if (Source.IsCancellationRequested)
                return; // second Ctrl-C: let the runtime terminate the process
            e.Cancel = true;
            Stop(ExitCodes.Interrupted);
        };
        _sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            Stop(ExitCodes.Terminated);
        });
    }

    private static void Stop(int exitCode)
    {
        _exitCode = exitCode;
        Console.Error.WriteLine();
        Console.Error.WriteLine("stopping: finishing the batch in flight and flushing the feature cache…");
        Source.Cancel();
    }
}
