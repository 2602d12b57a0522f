using System.CommandLine;
using System.Globalization;
using MLTransfer.Features;
using MLTransfer.FeatureStore;
using MLTransfer.Training;

namespace MLTransfer.Cli;

/// <summary><c>mltransfer extract</c>: one shard of a dataset → one Parquet file in a shared feature folder (a batch scheduler's task).</summary>
internal static class ExtractCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Dataset: a folder with one sub-folder per class (or train/ val/ [test/] folders), or a CSV/TSV manifest (path,label)", Required = true };
        var features = new Option<string>("--features") { Description = "Feature folder (e.g. on a shared volume): every task writes its shard-I-of-N.parquet there and adds it to _manifest.json", Required = true };
        var shard = new Option<string?>("--shard") { Description = "This task's shard, I/N (0-based) [default: from JOB_COMPLETION_INDEX, SLURM_ARRAY_TASK_ID or MLTRANSFER_SHARD_INDEX; else 0/1]" };
        shard.Validators.Add(r =>
        {
            if (r.Tokens.Count > 0)
            {
                try { ShardSpec.Parse(r.Tokens[^1].Value); }
                catch (MLTransferException e) { r.AddError($"--shard: {e.What}"); }
            }
        });
        var count = new Option<int?>("--shard-count") { Description = $"Number of shards, when the index comes from the environment [default: SLURM_ARRAY_TASK_COUNT or {ShardAssignment.CountVariable}]" };
        count.Validators.Add(r =>
        {
            if (r.Tokens.Count > 0 && !(int.TryParse(r.Tokens[^1].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is >= 1 and <= ShardSpec.MaxCount))
                r.AddError($"--shard-count must be a whole number from 1 to {ShardSpec.MaxCount}, got '{r.Tokens[^1].Value}'");
        });
        var batchSize = new Option<int>("--batch-size") { Description = "Images per backbone call", DefaultValueFactory = _ => new FeatureExtractionOptions().BatchSize }
            .Range(1, FeatureExtractionOptions.MaxBatchSize);
        var workspace = new Option<string?>("--workspace") { Description = "Folder of the feature cache that lets a killed task resume [default: FEATURES/_work/shard-I-of-N, deleted when the shard is written]" };
        var json = new Option<bool>("--json") { Description = "Print one JSON document instead of text" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "No progress output" };
        var int8 = new Option<string?>("--int8") { Description = "Run the int8 copy of the backbone that 'mltransfer quantize' wrote (features keyed apart from float ones)" };
        var backbone = BackboneOptions.Create();

        var command = new Command("extract", "Extract the features of one shard of a dataset into a Parquet file (run one task per shard on a batch scheduler, then train --features)")
        {
            data, features, shard, count, batchSize, workspace, int8, json, quiet,
        };
        backbone.AddTo(command);
        command.SetAction(parse =>
        {
            var asJson = parse.GetValue(json);
            var silent = asJson || parse.GetValue(quiet);
            return CommandRunner.Run(asJson, () =>
            {
                // Log lines go through the progress, so they never share the live progress line.
                var progress = new ConsoleProgress(silent);
                var assignment = ShardAssignment.Resolve(parse.GetValue(shard), parse.GetValue(count));
                progress.Log($"shard: {assignment.Shard} from {assignment.Source}");
                var options = new ShardExtractionOptions
                {
                    Shard = assignment.Shard,
                    Backbone = backbone.Source(parse) with { Int8Graph = parse.GetValue(int8) },
                    Cache = parse.GetValue(workspace) is { } w ? new FeatureCacheOptions { WorkspacePath = w } : null,
                    Extraction = new FeatureExtractionOptions { BatchSize = parse.GetValue(batchSize), Progress = progress },
                    Log = progress.Log,
                };
                var result = FeatureShards.Extract(parse.GetValue(data)!, parse.GetValue(features)!, options, Cancellation.Token);
                progress.Complete();
                if (asJson)
                {
                    CommandRunner.WriteJson(new
                    {
                        shard = result.Shard.ToString(),
                        shardSource = assignment.Source,
                        file = result.ShardFile,
                        result.AlreadyComplete,
                        result.Rows,
                        result.Skipped,
                        result.Extracted,
                        result.FromCache,
                        seconds = result.Elapsed.TotalSeconds,
                        result.ImagesPerSecond,
                    });
                    return ExitCodes.Success;
                }
                Console.WriteLine($"Shard {result.Shard} ({assignment.Source}): {result.ShardFile}");
                Console.WriteLine(result.AlreadyComplete
                    ? $"Already complete: {result.Rows} rows, {result.Skipped} skipped; nothing was done"
                    : string.Create(CultureInfo.InvariantCulture,
                        $"{result.Rows} rows, {result.Skipped} skipped; {result.Extracted} extracted at {result.ImagesPerSecond:F0} images/s, {result.FromCache} from the cache, {result.Elapsed.TotalSeconds:F1} s"));
                return ExitCodes.Success;
            });
        });
        return command;
    }
}
