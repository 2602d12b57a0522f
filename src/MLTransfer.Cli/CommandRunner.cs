using System.Text.Json;
using MLTransfer.Export;

namespace MLTransfer.Cli;

/// <summary>Runs a command body, turning library errors into one-line reasons and exit codes.</summary>
internal static class CommandRunner
{
    public static int Run(bool json, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (MLTransferException e)
        {
            return Fail(json, e.Message);
        }
        catch (OperationCanceledException) when (Cancellation.Token.IsCancellationRequested)
        {
            Fail(json, "Cancelled; finished feature batches are cached and a rerun continues from there");
            return Cancellation.ExitCode;
        }
        catch (Exception e) when (e is not OutOfMemoryException && Environment.GetEnvironmentVariable("MLTRANSFER_DEBUG") != "1")
        {
            // Every expected failure is an MLTransferException; this is a bug or an unforeseen environment
            // problem. One line still beats a stack trace, and the variable brings the trace back.
            return Fail(json, $"unexpected {e.GetType().Name}: {e.Message.Split('\n')[0]} (set MLTRANSFER_DEBUG=1 for the stack trace, and please report it)");
        }
    }

    public static int Fail(bool json, string message)
    {
        if (json)
            Console.Out.WriteLine(JsonSerializer.Serialize(new { error = message }, ModelPackage.JsonOptions));
        Console.Error.WriteLine($"error: {message}");
        return ExitCodes.Failure;
    }

    public static void WriteJson(object value) => Console.Out.WriteLine(JsonSerializer.Serialize(value, ModelPackage.JsonOptions));
}
