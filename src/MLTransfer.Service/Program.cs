using MLTransfer;
using MLTransfer.Service;

try
{
    await ServiceApp.Build(args).RunAsync();
    return 0;
}
catch (MLTransferException e)
{
    // Configuration and model errors are the user's to fix: say what and how, without a stack trace.
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
