using System.CommandLine;
using System.Globalization;
using MLTransfer.Training;

namespace MLTransfer.Cli;

/// <summary><c>mltransfer quantize</c>: an int8 copy of a backbone, calibrated and checked on a dataset, written only if accuracy holds.</summary>
internal static class QuantizeCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Dataset whose training images calibrate the ranges and whose validation split checks accuracy", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "Where to write the int8 backbone (.onnx); pass it to extract/train with --int8", Required = true };
        var calibration = new Option<int>("--calibration-images") { Description = "Training images to calibrate activation ranges on", DefaultValueFactory = _ => 300 }.Range(1, 100_000);
        var seed = new Option<int>("--seed") { Description = "Seed of the split, the calibration sample and the heads", DefaultValueFactory = _ => 42 }.Range(int.MinValue, int.MaxValue);
        var force = new Option<bool>("--force") { Description = "Replace an existing file that is not an MLTransfer ONNX output" };
        var json = new Option<bool>("--json") { Description = "Print one JSON document instead of text" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No progress output" };
        var backbone = BackboneOptions.Create();
        var command = new Command("quantize", "Write a statically quantized (int8) copy of the backbone, if its validation accuracy stays within 0.5 point of float")
        {
            data, output, calibration, seed, force, json, quiet,
        };
        backbone.AddTo(command);
        command.SetAction(parse =>
        {
            var asJson = parse.GetValue(json);
            var silent = asJson || parse.GetValue(quiet);
            return CommandRunner.Run(asJson, () =>
            {
                var options = new TransferLearningOptions
                {
                    Backbone = backbone.Source(parse),
                    Seed = parse.GetValue(seed),
                    Log = new ConsoleProgress(silent).Log,
                };
                var r = Int8Quantization.Run(parse.GetValue(data)!, parse.GetValue(output)!, options, parse.GetValue(calibration), parse.GetValue(force), Cancellation.Token);
                if (asJson)
                    CommandRunner.WriteJson(r);
                else
                {
                    Console.WriteLine($"{r.Backbone}, {r.CalibrationImages} calibration images");
                    Console.WriteLine("              float     int8");
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"images/s   {r.FloatImagesPerSecond,8:F1} {r.Int8ImagesPerSecond,8:F1}   (files -> features)"));
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"forward/s  {r.FloatForwardPerSecond,8:F1} {r.Int8ForwardPerSecond,8:F1}   (backbone alone, batch 8)"));
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"val acc    {r.FloatValidationAccuracy,8:F4} {r.Int8ValidationAccuracy,8:F4}"));
                    if (r.FloatTestAccuracy is { } ft && r.Int8TestAccuracy is { } it)
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"test acc   {ft,8:F4} {it,8:F4}"));
                    Console.WriteLine(r.Accepted
                        ? $"Accepted: int8 stays within {Int8Quantization.MaxAccuracyDrop * 100:0.#} point of float; written to {r.OutputPath} (use it with --int8)"
                        : $"Refused: int8 loses more than {Int8Quantization.MaxAccuracyDrop * 100:0.#} point of validation accuracy; nothing was written");
                }
                return r.Accepted ? ExitCodes.Success : ExitCodes.Failure;
            });
        });
        return command;
    }
}
