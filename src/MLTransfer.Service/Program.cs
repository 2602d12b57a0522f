using Microsoft.Extensions.Options;
using MLTransfer;
using MLTransfer.Service;

// Exit codes: 0 stopped normally (or --help), 2 could not start (bad option, model that does not load or
// fails its test prediction, address in use), 1 failed while running.
if (args.Any(a => a is "--help" or "-h" or "-?"))
{
    Console.Out.Write(ServiceOptions.Help());
    return 0;
}
var debug = Environment.GetEnvironmentVariable("MLTRANSFER_DEBUG") == "1";
WebApplication app;
try
{
    app = ServiceApp.Build(args);
}
catch (Exception e) when (!debug)
{
    return Fail(e, 2);
}
var started = false;
app.Lifetime.ApplicationStarted.Register(() => started = true);
try
{
    await app.RunAsync();
    return 0;
}
catch (Exception e) when (!debug)
{
    // Before the server is listening this is still a startup problem (address in use, malformed --urls).
    return Fail(e, started ? 1 : 2);
}

// One line: configuration and model errors are the user's to fix, and say what and how without a stack
// trace; anything else is named by its type, and MLTRANSFER_DEBUG=1 brings the trace back.
static int Fail(Exception e, int exitCode)
{
    var message = e switch
    {
        MLTransferException => e.Message,
        OptionsValidationException v => string.Join("; ", v.Failures),
        IOException { InnerException: Microsoft.AspNetCore.Connections.AddressInUseException } =>
            $"{e.Message} Stop the program that listens there, or pass another address with --urls",
        _ => $"{e.GetType().Name}: {e.Message} (set MLTRANSFER_DEBUG=1 for the stack trace)",
    };
    Console.Error.WriteLine($"error: {string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries))}");
    return exitCode;
}
