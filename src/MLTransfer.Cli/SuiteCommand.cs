using System.CommandLine;
using MLTransfer.Cli.Benchmarks;
using MLTransfer.Training;

namespace MLTransfer.Cli;

/// <summary><c>mltransfer bench-suite</c>: held-out accuracy of backbone choices over several datasets and seeds.</summary>
internal static class SuiteCommand
{
    public static Command Create()
    {
        var suite = new DatasetSuiteOptions();
        var (datasets, only) = (suite.Datasets, suite.Only);
        var backbones = new Option<string[]>("--backbone-choice")
        {
            Description = "Backbone choices to compare (repeatable): a name, a+b, tta:a, auto, or a list a,b",
            DefaultValueFactory = _ => ["mobilenet-v2", "resnet50", "resnet18", "mobilenet-v2+resnet50", "tta:mobilenet-v2+resnet50", "auto"],
        };
        var seeds = new Option<int[]>("--seed") { Description = "Seeds (repeatable) [default: 1 2 3]", DefaultValueFactory = _ => [1, 2, 3] };
        var workspace = suite.Workspace;
        var json = new Option<bool>("--json") { Description = "Print one JSON document instead of the table" };
        var balance = new Option<bool>("--balance-classes") { Description = "Weight training images by the inverse frequency of their class" };
        var backbone = BackboneOptions.Create();
        var command = new Command("bench-suite", "Compare backbone choices on several datasets and seeds: validation and held-out accuracy (mean ± std) and time")
        {
            datasets, only, backbones, seeds, workspace, json, balance,
        };
        backbone.AddTo(command);
        command.SetAction(parse => CommandRunner.Run(parse.GetValue(json), () =>
        {
            var (root, names) = suite.Resolve(parse);
            var template = new TransferLearningOptions
            {
                Backbone = backbone.Source(parse),
                Cache = new() { WorkspacePath = parse.GetValue(workspace) },
                BalanceClasses = parse.GetValue(balance),
            };
            var rows = AccuracySuite.Run(names.Select(n => Path.Combine(root, n)).ToList(), parse.GetValue(backbones)!, parse.GetValue(seeds)!, template,
                line => Console.Error.WriteLine(line), Cancellation.Token);
            if (parse.GetValue(json))
                CommandRunner.WriteJson(rows.Select(r => new { r.Dataset, r.Backbone, r.Seeds, r.Validation, r.HeldOut, r.HeldOutIsValidation, r.Chosen, r.MacroRecall, r.Seconds, validation = r.ValidationSummary, heldOutSummary = r.HeldOutSummary }));
            else
                Console.WriteLine(AccuracySuite.Format(rows));
            return ExitCodes.Success;
        }));
        return command;
    }
}
