using System.CommandLine;
using MLTransfer.Cli.Benchmarks;
using MLTransfer.Training;

namespace MLTransfer.Cli;

/// <summary><c>mltransfer bench-ood</c>: does a model know when not to answer? Out-of-domain AUROC, calibration and coverage/accuracy across datasets.</summary>
internal static class OodBenchCommand
{
    public static Command Create()
    {
        var suite = new DatasetSuiteOptions();
        var (datasets, only) = (suite.Datasets, suite.Only);
        var foreign = new Option<string[]>("--foreign") { Description = "Extra image folders fed only as out-of-domain images (repeatable; every image file under them), e.g. data-samples" };
        var limit = new Option<int>("--foreign-limit") { Description = "At most this many images of each foreign set, evenly spread (0: all)", DefaultValueFactory = _ => 0 }.Range(0, 1_000_000);
        var seed = new Option<int>("--seed") { Description = "Seed of the split and the trainer", DefaultValueFactory = _ => 1 }.Range(int.MinValue, int.MaxValue);
        var workspace = suite.Workspace;
        var json = new Option<bool>("--json") { Description = "Print one JSON document instead of the tables" };
        var backbone = BackboneOptions.Create();
        var command = new Command("bench-ood", "Train on each dataset and feed the others as out-of-domain images: AUROC, images let through, calibration error before/after, coverage/accuracy")
        {
            datasets, only, foreign, limit, seed, workspace, json,
        };
        backbone.AddTo(command);
        command.SetAction(parse => CommandRunner.Run(parse.GetValue(json), () =>
        {
            var (root, names) = suite.Resolve(parse);
            if (names.Length < 2)
                throw new MLTransferException($"Out-of-domain figures need at least two datasets; found {names.Length}", root, "Point --datasets at a folder with two or more datasets, or name them with --dataset");
            foreach (var extra in parse.GetValue(foreign) ?? [])
                if (!Directory.Exists(extra))
                    throw new MLTransferException("Foreign image folder not found", extra, "Pass a folder of labelled images with --foreign");
            var template = new TransferLearningOptions
            {
                Backbone = backbone.Source(parse),
                Seed = parse.GetValue(seed),
                Cache = new() { WorkspacePath = parse.GetValue(workspace) },
                Log = line => Console.Error.WriteLine(line),
            };
            var report = OutOfDomainBenchmark.Run(names.Select(n => Path.Combine(root, n)).ToList(), parse.GetValue(foreign) ?? [], template, parse.GetValue(limit),
                line => Console.Error.WriteLine(line), Cancellation.Token);
            if (parse.GetValue(json))
                CommandRunner.WriteJson(report);
            else
                Console.WriteLine(OutOfDomainBenchmark.Format(report));
            return ExitCodes.Success;
        }));
        return command;
    }
}
