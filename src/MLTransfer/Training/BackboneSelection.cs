using System.Diagnostics;
using System.Globalization;
using MLTransfer.Backbones;
using MLTransfer.Data;
using MLTransfer.Evaluation;
using MLTransfer.Features;
using MLTransfer.Heads;

namespace MLTransfer.Training;

/// <summary>
/// Lets data choose the backbone (<c>--backbone auto</c>, or a list): every candidate's features are extracted
/// (each member once, through its cache) and the head is scored by cross-validation on the training and
/// validation images — on the training images only when validation is the reported held-out set, so a
/// reported score is never one the choice was made on. The test split is never looked at.
/// </summary>
internal static class BackboneSelection
{
    private const int Folds = 5;

    /// <summary>
    /// The candidates of <c>auto</c>: each verified backbone available here without a download, the
    /// concatenation of those that share the most common input size, and the flip-averaged version of each of
    /// those (flips reuse one mirrored extraction per member).
    /// </summary>
    public static IReadOnlyList<BackboneSpec> AutoCandidates(BackboneSource source, Action<string> log)
    {
        var available = BackboneResolver.AvailableVerified(source.CatalogPath, source.Dirs);
        if (available.Count == 0)
            throw new MLTransferException("'auto' found no verified backbone available without a download", null,
                "Pull one first ('mltransfer backbones pull resnet18'), name a folder of backbone files in BackboneSource.Dirs (CLI: --backbone-dir) or MLTRANSFER_BACKBONE_DIR, or name a backbone");
        log($"backbone candidates (auto): {string.Join(", ", available)}");
        var singles = available.Select(n => new BackboneSpec([n], false)).ToList();
        var specs = new List<BackboneSpec>(singles);
        // Members of a concatenation see one decoded image, so they must agree on how it is made (the catalog
        // records say): the largest group that does is concatenated.
        var catalog = Backbones.Catalog.BackboneCatalog.Load(source.CatalogPath);
        var sameSize = available.GroupBy(n => catalog.TryFind(n, out var d) ? $"{d.InputWidth}x{d.InputHeight} {d.ResizeMode} {d.ChannelOrder}" : n)
            .MaxBy(g => g.Count())!.ToList();
        var combined = sameSize.Count > 1 ? new BackboneSpec(sameSize, false) : null;
        if (combined is not null)
            specs.Add(combined);
        specs.AddRange(specs.ToList().Select(s => s with { FlipAveraged = true }));
        return specs;
    }

    /// <summary>Scores every candidate and returns the run with the winner, its usable images and the table of candidates.</summary>
    public static (TrainingRun Run, RunImages Images, IReadOnlyList<BackboneCandidate> Candidates, string Reason) Choose(TrainingRun run)
    {
        var o = run.Options;
        var scored = new List<(RunBackbone Backbone, RunImages Images, BackboneCandidate Result)>();
        foreach (var candidate in run.Candidates!)
        {
            run.Cancellation.ThrowIfCancellationRequested();
            var images = run.Usable(run.Extract(candidate));
            var (score, logLoss, on) = Score(run, images);
            var (milliseconds, perSecond, bytes) = Cost(candidate.Graph, o.Extraction.InferenceThreads, o.Extraction.BatchSize);
            var result = new BackboneCandidate(candidate.Spec.ToString(), score, logLoss, on, candidate.Graph.FeatureSize, bytes, milliseconds, perSecond, Chosen: false);
            run.Log(string.Create(CultureInfo.InvariantCulture,
                $"candidate {result.Backbone}: {on} accuracy {score:F4}, log-loss {logLoss:F4}; {result.FeatureSize}-d; {bytes / 1048576.0:F1} MiB; {milliseconds:F1} ms a prediction; {perSecond:F0} images/s"));
            scored.Add((candidate, images, result));
        }
        // Highest score; equal scores go to the lower log-loss, then to the cheaper prediction.
        var ranked = scored.OrderByDescending(s => Math.Round(s.Result.Score, 6)).ThenBy(s => s.Result.LogLoss).ThenBy(s => s.Result.PredictMilliseconds).ToList();
        var winner = ranked[0];
        var reason = ranked.Count == 1 ? $"{winner.Result.Backbone} was the only candidate" : Why(winner.Result, ranked[1].Result);
        run.Log($"backbone chosen: {reason}");
        var table = scored.Select(s => s.Result with { Chosen = ReferenceEquals(s.Backbone, winner.Backbone) }).ToList();
        return (run.With(winner.Backbone), winner.Images, table, reason);
    }

    private static string Why(BackboneCandidate winner, BackboneCandidate next)
    {
        var inv = CultureInfo.InvariantCulture;
        var tie = Math.Round(winner.Score, 6) == Math.Round(next.Score, 6)
            ? string.Create(inv, $"; equal accuracy, lower log-loss {winner.LogLoss:F4} vs {next.LogLoss:F4}")
            : "";
        return string.Create(inv, $"{winner.Backbone} has the highest {winner.ScoredOn} accuracy ({winner.Score:F4}; next {next.Backbone} {next.Score:F4}{tie})");
    }

    /// <summary>
    /// Accuracy and log-loss of the configured head by k-fold cross-validation over the images the choice may
    /// look at: training and validation when there is a test split, training only when validation is the
    /// reported held-out set. Pooling the folds scores every such image once, which on small sets is far less
    /// noisy than one validation split (on flowers' 90 validation images one image is 1.1 points).
    /// </summary>
    private static (double Accuracy, double LogLoss, string On) Score(TrainingRun run, RunImages images)
    {
        var o = run.Options;
        var pool = images.Test.Count > 0 ? [.. images.Train, .. images.Validation] : images.Train.ToList();
        var folds = Math.Min(pool.Count > 1000 ? 3 : 5, pool.GroupBy(i => i.Label).Min(g => g.Count()));
        if (folds < 2)
            throw new MLTransferException("Too few images per class to choose a backbone by cross-validation", run.Dataset.Root,
                "Name one backbone, or add images (each class needs at least two training images)");
        var fold = StratifiedFolds.Assign(pool, folds, o.Seed);
        var labels = new List<int>();
        var scores = new List<float[]>();
        for (var f = 0; f < folds; f++)
        {
            var fit = pool.Where((_, i) => fold[i] != f).ToList();
            var held = pool.Where((_, i) => fold[i] == f).ToList();
            var ml = ProcessTemp.NewMLContext(o.Seed);
            var head = HeadTrainer.Fit(ml, run.ClassNames, images.VectorsOf(fit), images.Labels(fit), o.Head, o.L2Regularization, o.L1Regularization, o.BalanceClasses);
            labels.AddRange(images.Labels(held));
            scores.AddRange(HeadTrainer.Score(ml, head, images.VectorsOf(held)));
        }
        var pooled = MetricsCalculator.Compute(run.ClassNames, labels, scores);
        var on = $"{folds}-fold cross-validation on the training{(images.Test.Count > 0 ? " and validation" : "")} images";
        return (pooled.Accuracy, pooled.LogLoss, on);
    }

    /// <summary>Median time of a single-image prediction through the candidate's graph, and the graph's size.</summary>
    private static (double Milliseconds, double ImagesPerSecond, long Bytes) Cost(PreparedBackbone graph, int threads, int extractionBatch)
    {
        using var session = new BackboneSession(graph, threads, allowSpinning: true);
        var pixels = new float[graph.InputLength];
        var times = new List<double>();
        for (var i = 0; i < 6; i++)
        {
            var clock = Stopwatch.StartNew();
            session.Run(pixels, 1);
            if (i > 0)
                times.Add(clock.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        // Throughput at extraction's batch size, or at the batch a graph pins.
        var batch = graph.FixedBatchSize ?? extractionBatch;
        var many = new float[graph.InputLength * batch];
        var best = double.MaxValue;
        for (var i = 0; i < 3; i++)
        {
            var clock = Stopwatch.StartNew();
            session.Run(many, batch);
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return (times[times.Count / 2], batch / best, graph.OnnxBytes.LongLength);
    }
}
