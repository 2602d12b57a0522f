using System.CommandLine;
using MLTransfer.Backbones;
using MLTransfer.Export;

namespace MLTransfer.Cli;

/// <summary><c>mltransfer export</c>: write a model zip as one fused ONNX file (pixels in, probabilities out).</summary>
internal static class ExportCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model", "-m") { Description = "Model zip (from 'mltransfer train' or a TransferImageClassification pipeline)", Required = true };
        var onnx = new Option<string>("--onnx") { Description = "ONNX file to write", Required = true };
        var json = new Option<bool>("--json") { Description = "Print one JSON document instead of text" };
        var force = new Option<bool>("--force") { Description = "Replace an existing file even if it is not an MLTransfer export (never the model being read)" };
        var command = new Command("export", "Write the model as one ONNX file: raw pixels [N,3,H,W] in, softmax probabilities out, class names in metadata") { model, onnx, json, force };
        command.SetAction(parse => CommandRunner.Run(parse.GetValue(json), () =>
        {
            var target = parse.GetValue(onnx)!;
            OutputGuard.Check(target, OutputKind.Onnx, [parse.GetValue(model)], parse.GetValue(force));
            var bytes = FusedOnnxExporter.Export(parse.GetValue(model)!);
            ProcessTemp.WriteAtomically(target, temp => File.WriteAllBytes(temp, bytes));
            if (parse.GetValue(json))
                CommandRunner.WriteJson(new { onnx = Path.GetFullPath(target), bytes = bytes.Length, input = PreparedBackbone.InputName, output = FusedOnnxExporter.OutputName });
            else
                Console.WriteLine($"wrote {target} ({bytes.Length / 1024.0 / 1024.0:F1} MiB): input '{PreparedBackbone.InputName}' (raw 0..255 pixels, NCHW), output '{FusedOnnxExporter.OutputName}'");
            return ExitCodes.Success;
        }));
        return command;
    }
}
