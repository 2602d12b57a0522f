using System.CommandLine;
using System.CommandLine.Help;
using MLTransfer.Cli;

// Exit codes: 0 success, 1 failure (bad data, missing backbone, ...), 2 usage error, 130/143 stopped by Ctrl-C/SIGTERM.
// A named command rather than RootCommand, whose name is the assembly's (MLTransfer.Cli): help says 'mltransfer'
// whether the tool, the apphost or 'dotnet MLTransfer.Cli.dll' runs it.
var root = new Command("mltransfer", "mltransfer — transfer learning for image classification on ML.NET and ONNX Runtime")
{
    new HelpOption(),
    new VersionOption(),
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
CliConventions.RequiredOptionsFirst(root);
Cancellation.Install();
var parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    // One line and a pointer to the help, rather than the whole help around the one useful line.
    Console.Error.WriteLine($"error: {CliConventions.UsageError(parse)}");
    var command = string.Join(' ', parse.CommandResult.Command.Name == root.Name ? [] : new[] { parse.CommandResult.Command.Name });
    Console.Error.WriteLine($"Run 'mltransfer {(command.Length > 0 ? command + " " : "")}--help' for usage.");
    return ExitCodes.Usage;
}
return parse.Invoke();
