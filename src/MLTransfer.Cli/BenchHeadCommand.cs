using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using MLTransfer.Cli.Benchmarks;
using MLTransfer.FeatureStore;
using MLTransfer.Heads;

namespace MLTransfer.Cli;

/// <summary>
/// <c>mltransfer bench-head</c>: head training streamed from feature shards at a given number of rows, with
/// generated features; reports peak RSS, seconds and rows/s. One size per process, so each peak is its own.
/// </summary>
internal static class BenchHeadCommand
{
    public static Command Create()
    {
        var rows = new Option<int>("--rows") { Description = "Training rows to generate", DefaultValueFactory = _ => 100_000 }.Range(1, 100_000_000);
        var width = new Option<int>("--width") { Description = "Floats per feature vector", DefaultValueFactory = _ => 1280 }.Range(1, 1 << 16);
        var classes = new Option<int>("--classes") { Description = "Classes", DefaultValueFactory = _ => 5 }.Range(2, 1000);
        var shards = new Option<int>("--shards") { Description = "Shard files the rows are spread over", DefaultValueFactory = _ => 4 }.Range(1, ShardSpec.MaxCount);
        var iterations = new Option<int>("--iterations") { Description = "L-BFGS iterations (each reads every row about once)", DefaultValueFactory = _ => 10 }.Range(1, 10_000);
        var folder = new Option<string?>("--folder") { Description = "Where the generated shards go [default: a temporary folder, deleted afterwards]" };
        var json = new Option<bool>("--json") { Description = "Print one JSON document instead of text" };
        var command = new Command("bench-head", "Measure head training streamed from feature shards (generated features): peak memory and rows/s")
        {
            rows, width, classes, shards, iterations, folder, json,
        };
        command.SetAction(parse =>
        {
            var asJson = parse.GetValue(json);
            return CommandRunner.Run(asJson, () =>
            {
                var (n, w, k) = (parse.GetValue(rows), parse.GetValue(width), parse.GetValue(classes));
                var given = parse.GetValue(folder);
                var dir = given ?? Directory.CreateTempSubdirectory("mltransfer-bench-head-").FullName;
                try
                {
                    var generate = Stopwatch.StartNew();
                    if (FeatureManifest.Read(dir) is null)
                        SyntheticFeatures.Write(dir, n, w, k, parse.GetValue(shards), seed: 1);
                    generate.Stop();
                    var store = StoredFeatures.Open(dir, keepKeys: false);
                    var rowCount = store.Manifest.Shards.Sum(e => e.Rows);
                    var bytes = store.Files.Sum(f => new FileInfo(f).Length);
                    var classNames = Enumerable.Range(0, k).Select(c => $"c{c}").ToList();
                    var index = classNames.Select((c, i) => (c, i)).ToDictionary(t => t.c, t => t.i);
                    GC.Collect();
                    PeakMemory.TryResetPeak();
                    var rssBefore = PeakMemory.CurrentBytes();
                    var passes = 0;
                    IEnumerable<(int, float[])> Rows()
                    {
                        passes++;
                        foreach (var (key, features) in store.Stream(_ => true))
                            yield return (index[key.Label], features);
                    }
                    var ml = ProcessTemp.NewMLContext(1);
                    var clock = Stopwatch.StartNew();
                    HeadTrainer.FitStreaming(ml, classNames, Rows(), w, HeadKind.LbfgsMaximumEntropy, maxIterations: parse.GetValue(iterations));
                    clock.Stop();
                    var peak = PeakMemory.PeakBytes();
                    var result = new
                    {
                        rows = rowCount,
                        width = w,
                        storeBytes = bytes,
                        generateSeconds = generate.Elapsed.TotalSeconds,
                        trainSeconds = clock.Elapsed.TotalSeconds,
                        passes,
                        rowsPerSecond = (double)rowCount * passes / clock.Elapsed.TotalSeconds,
                        rssBeforeMiB = rssBefore / 1048576.0,
                        peakRssMiB = peak / 1048576.0,
                    };
                    if (asJson)
                        CommandRunner.WriteJson(result);
                    else
                        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                            $"{result.rows} rows × {w} floats ({bytes / 1048576.0:F0} MiB of shards): head {result.trainSeconds:F1} s for {passes} passes = {result.rowsPerSecond:F0} rows/s; RSS {result.rssBeforeMiB:F0} MiB before, peak {result.peakRssMiB:F0} MiB"));
                    return ExitCodes.Success;
                }
                finally
                {
                    if (given is null)
                        Directory.Delete(dir, recursive: true);
                }
            });
        });
        return command;
    }
}
