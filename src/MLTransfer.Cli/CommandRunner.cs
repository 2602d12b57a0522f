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
        catch (OperationCanceledException)
        {
            return Fail(json, "Cancelled; finished feature batches are cached and a rerun continues from there");
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
