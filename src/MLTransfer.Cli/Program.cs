using System.CommandLine;
using MLTransfer.Cli;

// Exit codes: 0 success, 1 failure (bad data, missing backbone, ...), 2 usage error.
var root = new RootCommand("mltransfer — transfer learning for image classification on ML.NET and ONNX Runtime")
{
    TrainCommand.Create(),
    FineTuneCommand.Create(),
    EvaluateCommand.Create(),
    PredictCommand.Create(),
    BackbonesCommand.Create(),
    ReportCommand.Create(),
    ExportCommand.Create(),
    BenchCommand.Create(),
};
var parse = root.Parse(args);
if (parse.Errors.Count > 0)
{
    parse.Invoke();
    return ExitCodes.Usage;
}
return parse.Invoke();
