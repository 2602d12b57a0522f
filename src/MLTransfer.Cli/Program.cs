using System.CommandLine;
using MLTransfer.Cli;

// Exit codes: 0 success, 1 failure (bad data, missing backbone, ...), 2 usage error, 130/143 stopped by Ctrl-C/SIGTERM.
var root = new RootCommand("mltransfer — transfer learning for image classification on ML.NET and ONNX Runtime")
{
    TrainCommand.Create(),
    ExtractCommand.Create(),
    QuantizeCommand.Create(),
    FineTuneCommand.Create(),
    EvaluateCommand.Create(),
    PredictCommand.Create(),
    BackbonesCommand.Create(),
    ReportCommand.Create(),
    ExportCommand.Create(),
    BenchCommand.Create(),
    SuiteCommand.Create(),
    OodBenchCommand.Create(),
    BenchHeadCommand.Create(),
};
Cancellation.Install();
var parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    // One line per problem and a pointer to the help, rather than the whole help around the one useful line.
    foreach (var error in parse.Errors)
        Console.Error.WriteLine($"error: {error.Message}");
    var command = string.Join(' ', parse.CommandResult.Command.Name == root.Name ? [] : new[] { parse.CommandResult.Command.Name });
    Console.Error.WriteLine($"Run 'mltransfer {(command.Length > 0 ? command + " " : "")}--help' for usage.");
    return ExitCodes.Usage;
}
return parse.Invoke();
