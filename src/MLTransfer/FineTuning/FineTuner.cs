using System.Diagnostics;
using System.Globalization;
using Microsoft.ML;
using MLTransfer.Backbones;
using MLTransfer.Backbones.Onnx;
using MLTransfer.Backbones.Store;
using MLTransfer.Data;
using MLTransfer.Evaluation;
using MLTransfer.Export;
using MLTransfer.Features;
using MLTransfer.Reporting;
using MLTransfer.Training;

namespace MLTransfer.FineTuning;

/// <summary>
/// Fine-tuning beyond the head: the last layers of the backbone are trained together with a softmax head,
/// then written back into the ONNX graph, so the result is an ordinary prepared backbone plus head.
/// </summary>
/// <remarks>
/// <para>Steps: cut the backbone (<see cref="CutPlan"/>); run the frozen part once per image and cache the
/// cut activations (the bottleneck-cache idea moved down the network, so epochs never touch pixels); fit
/// the head alone on the frozen features (warm start, so the first joint steps do not push random-head
/// gradients into pretrained weights); train the top layers and the head together with Adam, the backbone
/// at a tenth of the head's learning rate; keep the epoch with the best early-stopping accuracy.</para>
/// <para>The saved head is then refitted with the configured ML.NET trainer on the fine-tuned features:
/// ML.NET cannot load hand-made linear weights, and the refit keeps the saved chain (ONNX backbone →
/// stock ML.NET head) exactly as <see cref="TransferLearner"/> builds it. The frozen baseline is scored
/// with the same trainer on the same split, so the two numbers compare only the backbone.</para>
/// </remarks>
public static class FineTuner
{
    private const int InferenceBatch = 64;

    /// <summary>Fine-tunes on the labelled images under <paramref name="dataPath"/> (folder or manifest).</summary>
    /// <exception cref="MLTransferException">Bad data, a missing backbone, or a backbone whose top cannot be trained.</exception>
    public static FineTuningResult Run(string dataPath, FineTuningOptions? options = null, CancellationToken cancellation = default)
    {
        options ??= new FineTuningOptions();
        Validate(options);
        options.Transfer.Validate();
        var t = options.Transfer;
        var log = t.Log ?? (_ => { });
        var total = Stopwatch.StartNew();

        var dataset = DatasetLoader.Load(dataPath);
        // Backbone problems (missing, corrupt, mismatched) are found before any dataset file is read.
        var (resolved, prepared) = BackbonePreparation.Run(t, log, cancellation);
        var split = DatasetSplitter.Split(dataset, new SplitOptions(t.ValidationFraction, t.TestFraction, t.Seed), ContentHasher.Sha256Of);
        foreach (var warning in dataset.Warnings.Concat(split.Warnings))
            log($"warning: {warning}");

        var where = resolved.FilePath;

        var graph = OnnxModelIO.Parse(prepared.OnnxBytes, where);
        var plan = OnnxBlock.Plan(graph, options.Unfreeze, PreparedBackbone.OutputName, where);
        var network = OnnxBlock.Import(graph, plan, where);
        var (frozenBytes, cutShape) = OnnxBlock.FrozenGraph(prepared, plan.CutTensor, where);
        plan = plan with { CutShape = cutShape };
        var frozenPart = prepared with { OnnxBytes = frozenBytes, FeatureSize = plan.CutSize };
        var trainableWeights = network.TrainableParameters.Sum(p => p.Length);
        log($"fine-tuning: {plan}; {trainableWeights:N0} trainable weights");
        foreach (var p in network.Parameters.Where(p => !p.Trainable))
            log($"warning: weight '{p.Name}' is also used below the cut and stays frozen");

        // Cut activations, cached like bottleneck features but keyed by the cut tensor.
        var all = split.Train.Concat(split.Validation).Concat(split.Test).Select(i => i.Path).Distinct().ToList();
        FeatureExtractionResult extraction;
        using (var session = new BackboneSession(frozenPart, t.Extraction.InferenceThreads))
        using (var cache = t.UseFeatureCache ? OpenCache(t, resolved, frozenPart, plan, log) : null)
            extraction = FeatureExtractor.Extract(all, session, cache, t.Extraction, cancellation);
        log(string.Create(CultureInfo.InvariantCulture,
            $"cut activations: {extraction.Extracted} computed in {extraction.Elapsed.TotalSeconds:F1} s, {extraction.FromCache} from cache, {extraction.Skipped.Count} skipped"));

        List<LabeledImage> Usable(IEnumerable<LabeledImage> images) => images.Where(i => extraction.Features.ContainsKey(i.Path)).ToList();
        var (train, validation, test) = (Usable(split.Train), Usable(split.Validation), Usable(split.Test));
        var classes = split.ClassNames;
        var classIndex = classes.Select((c, i) => (c, i)).ToDictionary(x => x.c, x => x.i, StringComparer.Ordinal);
        var missing = classes.Where(c => !train.Any(i => i.Label == c)).ToList();
        if (missing.Count > 0)
            throw new MLTransferException($"No usable training images left for class(es) {string.Join(", ", missing)}", dataset.Root,
                "Add images to those classes or remove them; see the skipped files above");
        int[] Labels(IReadOnlyList<LabeledImage> images) => images.Select(i => classIndex[i.Label]).ToArray();
        List<float[]> Cut(IReadOnlyList<LabeledImage> images) => images.Select(i => extraction.Features[i.Path]).ToList();

        // The frozen baseline: the same features the head-only path sees, the same head trainer, the same split.
        var ml = ProcessTemp.NewMLContext(t.Seed);
        var frozenFeatures = Features(network, Cut(train), cutShape);
        var frozenHead = HeadTrainer.Fit(ml, classes, frozenFeatures, Labels(train), t.Head, t.L2Regularization, t.L1Regularization);
        ClassificationMetrics? Evaluate(ITransformer head, IReadOnlyList<LabeledImage> images, out float[][] scores)
        {
            scores = HeadTrainer.Score(ml, head, Features(network, Cut(images), cutShape));
            return images.Count == 0 ? null : MetricsCalculator.Compute(classes, Labels(images), scores);
        }
        var frozenValidation = Evaluate(frozenHead, validation, out _);
        var frozenTest = Evaluate(frozenHead, test, out _);
        log(string.Create(CultureInfo.InvariantCulture, $"frozen backbone + {t.Head}: validation {Format(frozenValidation)}, test {Format(frozenTest)}"));

        // Early stopping must not look at the reported held-out set. With a validation split that is not the
        // held-out set, it steers training. Otherwise the choice is made inside the training images: by k-fold
        // cross-validation when every class has enough images (each training image is scored once, out of
        // fold, so the choice rests on all of them rather than on a carved 15%: on hymenoptera that share is
        // 36 images, where one image is 2.8 points and the accuracy curve is flat), or else by a carved share.
        var heldOutIsValidation = test.Count == 0;
        var folds = validation.Count > 0 && !heldOutIsValidation ? 0
            : Math.Min(options.SelectionFolds, train.GroupBy(i => i.Label).Min(g => g.Count()));
        var lanes = new List<Lane>();
        string selectionName;
        int fitImages, selectionImages;
        if (folds >= 2)
        {
            var fold = FoldOf(train, folds, t.Seed);
            for (var f = 0; f < folds; f++)
            {
                var inFold = Enumerable.Range(0, train.Count).Where(i => fold[i] == f).Select(i => train[i]).ToList();
                var outFold = Enumerable.Range(0, train.Count).Where(i => fold[i] != f).Select(i => train[i]).ToList();
                lanes.Add(new Lane(Cut(outFold), Labels(outFold), Cut(inFold), Labels(inFold)));
            }
            selectionName = $"{folds}-fold cross-validation on the training images" +
                (heldOutIsValidation ? " (the validation split is the held-out set)" : " (there is no validation split)");
            (fitImages, selectionImages) = (train.Count, train.Count);
            log($"early stopping on {selectionName}: the epoch count is chosen on all {train.Count} training images scored out of fold, then the backbone is retrained on all of them");
        }
        else
        {
            var (fit, selection, name) = SelectionSplit(dataset, train, validation, heldOutIsValidation, options.SelectionFraction, t.Seed);
            lanes.Add(new Lane(Cut(fit), Labels(fit), Cut(selection), Labels(selection)));
            (selectionName, fitImages, selectionImages) = (name, fit.Count, selection.Count);
            log($"early stopping on {selectionName} ({selection.Count} images); training on {fit.Count} images");
        }

        var head = new SoftmaxHead(frozenFeatures[0].Length, classes.Count);
        // The pretrained values: where every lane starts, and the origin of the logged drift.
        var pretrained = network.Snapshot();
        var warmClock = Stopwatch.StartNew();
        foreach (var lane in lanes)
        {
            lane.Start = WarmUpHead(head, network, lane.FitCut, lane.FitLabels, lane.SelectionCut, lane.SelectionLabels, cutShape, options);
            (lane.Net, lane.Head) = (pretrained, head.Snapshot());
            lane.Optimizer = NewOptimizer(network, head, options);
            lane.Rng = new Random(t.Seed + lanes.IndexOf(lane));
        }
        warmClock.Stop();
        var epochs = new List<FineTuningEpoch> { Pool(0, lanes, lanes.Select(l => l.Start!).ToList(), warmClock.Elapsed.TotalSeconds, 0) };
        log(EpochLine(epochs[0]));

        // Epoch 0 (the head alone on the pretrained backbone) competes like any other epoch: when no joint
        // epoch beats it on the early-stopping score, the backbone is saved unchanged, i.e. the frozen model.
        var best = (Epoch: 0, epochs[0].SelectionAccuracy, epochs[0].SelectionLoss, Net: pretrained, Head: lanes[0].Head!);
        var tuneClock = Stopwatch.StartNew();
        var stoppedEarly = false;
        for (var epoch = 1; epoch <= options.MaxEpochs; epoch++)
        {
            cancellation.ThrowIfCancellationRequested();
            var clock = Stopwatch.StartNew();
            var results = new List<FineTuningEpoch>();
            double drift = 0;
            foreach (var lane in lanes)
            {
                network.Restore(lane.Net!);
                head.Restore(lane.Head!);
                var (trainLoss, trainAcc) = TrainEpoch(network, head, lane.Optimizer!, lane.Rng!, lane.Order, lane.FitCut, lane.FitLabels, cutShape, options);
                var (selLoss, selAcc) = Measure(head, network, lane.SelectionCut, lane.SelectionLabels, cutShape);
                results.Add(new FineTuningEpoch(epoch, trainLoss, trainAcc, selLoss, selAcc, 0));
                drift += Drift(network, pretrained) / lanes.Count;
                (lane.Net, lane.Head) = (network.Snapshot(), head.Snapshot());
            }
            var record = Pool(epoch, lanes, results, clock.Elapsed.TotalSeconds, drift);
            epochs.Add(record);
            var improved = record.SelectionAccuracy > best.SelectionAccuracy || record.SelectionAccuracy == best.SelectionAccuracy && record.SelectionLoss < best.SelectionLoss;
            log(EpochLine(record) + (improved ? "  *" : ""));
            if (improved)
                best = (epoch, record.SelectionAccuracy, record.SelectionLoss, lanes[0].Net!, lanes[0].Head!);
            else if (epoch - best.Epoch >= options.Patience)
            {
                stoppedEarly = true;
                break;
            }
        }
        if (folds >= 2)
        {
            // Cross-validation chose the epoch count; the backbone is now trained on every training image for
            // that many epochs (same schedule, no early-stopping set left to look at).
            network.Restore(pretrained);
            var (allCut, allLabels) = (Cut(train), Labels(train));
            WarmUpHead(head, network, allCut, allLabels, [], [], cutShape, options);
            var optimizer = NewOptimizer(network, head, options);
            var rng = new Random(t.Seed);
            var order = Enumerable.Range(0, train.Count).ToArray();
            for (var epoch = 1; epoch <= best.Epoch; epoch++)
            {
                cancellation.ThrowIfCancellationRequested();
                var clock = Stopwatch.StartNew();
                var (trainLoss, trainAcc) = TrainEpoch(network, head, optimizer, rng, order, allCut, allLabels, cutShape, options);
                log(string.Create(CultureInfo.InvariantCulture,
                    $"all training images, epoch {epoch,2} of {best.Epoch}: train loss {trainLoss:F4} acc {trainAcc:F3} | drift {Drift(network, pretrained):E2} | {clock.Elapsed.TotalSeconds:F1} s"));
            }
        }
        else
        {
            network.Restore(best.Net);
            head.Restore(best.Head);
        }
        tuneClock.Stop();
        var keptFrozen = best.Epoch == 0;
        log($"kept epoch {best.Epoch}{(stoppedEarly ? " (stopped early)" : "")}");
        if (keptFrozen)
            log("no fine-tuning epoch beat the frozen backbone on the early-stopping score: the backbone is saved unchanged (the model is the frozen-backbone model)");

        // The saved head: the configured ML.NET trainer refitted on the fine-tuned features of all training images.
        var headClock = Stopwatch.StartNew();
        var finalHead = HeadTrainer.Fit(ml, classes, Features(network, Cut(train), cutShape), Labels(train), t.Head, t.L2Regularization, t.L1Regularization);
        headClock.Stop();
        var validationMetrics = Evaluate(finalHead, validation, out var validationScores);
        var testMetrics = Evaluate(finalHead, test, out var testScores);
        log(string.Create(CultureInfo.InvariantCulture, $"fine-tuned backbone + {t.Head}: validation {Format(validationMetrics)}, test {Format(testMetrics)}"));

        var note = $"fine-tuned by MLTransfer: {plan}; best epoch {best.Epoch} of {epochs.Count - 1}; learning rate {options.LearningRate.ToString(CultureInfo.InvariantCulture)} (backbone ×{options.BackboneLearningRateFactor.ToString(CultureInfo.InvariantCulture)})";
        var tuned = prepared with { OnnxBytes = OnnxBlock.WriteBack(prepared.OnnxBytes, network, note, where) };
        var model = ModelPipeline.FitFeaturizer(ml, tuned).Append(finalHead);

        var (heldOut, heldOutScores) = test.Count > 0 ? (test, testScores) : (validation, validationScores);
        var counts = RunSummary.Counts(classes, train, validation, test);
        var reason = $"{resolved.Reason}; fine-tuned ({plan})";
        var report = new TrainingReport
        {
            ClassNames = classes,
            Counts = counts,
            GivenSplit = split.IsGivenSplit,
            ValidationIsHeldOut = test.Count == 0,
            Skipped = dataset.Skipped.Concat(extraction.Skipped).ToList(),
            Duplicates = split.Duplicates,
            Warnings = dataset.Warnings.Concat(split.Warnings).ToList(),
            Backbone = resolved.Description.Name,
            BackboneReason = reason,
            Validation = validationMetrics,
            Test = testMetrics,
            HeldOut = heldOut.Select((image, i) => RunSummary.Outcome(image, heldOutScores![i], classes, classIndex)).ToList(),
            ImagesExtracted = extraction.Extracted,
            ImagesFromCache = extraction.FromCache,
            ExtractionImagesPerSecond = extraction.ExtractedPerSecond,
            ExtractionTime = extraction.Elapsed,
            HeadTrainingTime = headClock.Elapsed,
            TotalTime = total.Elapsed,
        };
        var metadata = RunSummary.Metadata(classes, prepared, resolved, reason,
            $"{t.Head} on a fine-tuned backbone ({plan.ConvLayers} conv layers above '{plan.CutTensor}' retrained)", t.Seed, dataPath,
            counts, report.Skipped.Count, validationMetrics, testMetrics);
        var fineTuning = new FineTuningReport
        {
            Cut = plan,
            TrainableParameters = trainableWeights,
            Epochs = epochs,
            BestEpoch = best.Epoch,
            KeptFrozenBackbone = keptFrozen,
            SelectionFolds = folds >= 2 ? folds : 0,
            StoppedEarly = stoppedEarly,
            SelectionSet = selectionName,
            FitImages = fitImages,
            SelectionImages = selectionImages,
            FrozenValidation = frozenValidation,
            FrozenTest = frozenTest,
            FineTunedValidation = validationMetrics,
            FineTunedTest = testMetrics,
            CutExtractionTime = extraction.Elapsed,
            HeadWarmupTime = warmClock.Elapsed,
            FineTuningTime = tuneClock.Elapsed,
        };
        return new FineTuningResult(new TrainedModel(ml, model, metadata, report with { TotalTime = total.Elapsed }, TransferLearner.RunInputs(dataset, resolved)),
            fineTuning, tuned, frozenPart, network, finalHead, cutShape);
    }

    /// <summary>Runs cut activations (ONNX order <c>[C,H,W]</c> per image) through the network; one feature vector per image.</summary>
    internal static List<float[]> Features(TrainableNetwork network, IReadOnlyList<float[]> cut, int[] cutShape)
    {
        var result = new List<float[]>(cut.Count);
        for (var start = 0; start < cut.Count; start += InferenceBatch)
        {
            var batch = cut.Skip(start).Take(InferenceBatch).ToList();
            var output = network.Forward(Act.FromImages(batch, cutShape[0], cutShape[1], cutShape[2]));
            for (var n = 0; n < batch.Count; n++)
                result.Add(output.Image(n));
        }
        return result;
    }

    private static FineTuningEpoch WarmUpHead(SoftmaxHead head, TrainableNetwork network, List<float[]> fitCut, int[] fitLabels,
        List<float[]> selectionCut, int[] selectionLabels, int[] cutShape, FineTuningOptions options)
    {
        var clock = Stopwatch.StartNew();
        var features = Stack(Features(network, fitCut, cutShape));
        var optimizer = new AdamOptimizer(head.Parameters.Select(p => (p, options.HeadWarmupLearningRate)));
        for (var step = 0; step < options.HeadWarmupSteps; step++)
        {
            head.Run(features, fitLabels, options.HeadL2, backward: true);
            optimizer.Step();
        }
        var (loss, correct, _) = head.Run(features, fitLabels, options.HeadL2, backward: false);
        var (selLoss, selAcc) = Measure(head, network, selectionCut, selectionLabels, cutShape);
        return new FineTuningEpoch(0, loss, (double)correct / fitLabels.Length, selLoss, selAcc, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Root-mean-square distance of the trainable backbone weights from their values in <paramref name="pretrained"/> (a <see cref="TrainableNetwork.Snapshot"/>).</summary>
    private static double Drift(TrainableNetwork network, float[][] pretrained)
    {
        double sum = 0; long n = 0;
        for (var i = 0; i < network.Parameters.Count; i++)
        {
            var p = network.Parameters[i];
            if (!p.Trainable)
                continue;
            var w0 = pretrained[i];
            for (var j = 0; j < w0.Length; j++)
                sum += (double)(p.Value[j] - w0[j]) * (p.Value[j] - w0[j]);
            n += w0.Length;
        }
        return n == 0 ? 0 : Math.Sqrt(sum / n);
    }

    /// <summary>One training run that early stopping scores: its own fit and early-stopping images, optimiser state and weights.</summary>
    private sealed class Lane(List<float[]> fitCut, int[] fitLabels, List<float[]> selectionCut, int[] selectionLabels)
    {
        public List<float[]> FitCut { get; } = fitCut;
        public int[] FitLabels { get; } = fitLabels;
        public List<float[]> SelectionCut { get; } = selectionCut;
        public int[] SelectionLabels { get; } = selectionLabels;
        public FineTuningEpoch? Start { get; set; }
        public float[][]? Net { get; set; }
        public float[]? Head { get; set; }
        public AdamOptimizer? Optimizer { get; set; }
        public Random? Rng { get; set; }
        /// <summary>Visiting order of the fit images, reshuffled in place each epoch.</summary>
        public int[] Order { get; } = Enumerable.Range(0, fitCut.Count).ToArray();
    }

    private static AdamOptimizer NewOptimizer(TrainableNetwork network, SoftmaxHead head, FineTuningOptions options) => new(
        network.TrainableParameters.Select(p => (p, options.LearningRate * options.BackboneLearningRateFactor))
            .Concat(head.Parameters.Select(p => (p, options.LearningRate))));

    /// <summary>One pass over the fit images in shuffled mini-batches; returns the running mean loss and accuracy.</summary>
    private static (double Loss, double Accuracy) TrainEpoch(TrainableNetwork network, SoftmaxHead head, AdamOptimizer optimizer, Random rng,
        int[] order, List<float[]> fitCut, int[] fitLabels, int[] cutShape, FineTuningOptions options)
    {
        rng.Shuffle(order);
        double lossSum = 0;
        var correct = 0;
        for (var start = 0; start < order.Length; start += options.BatchSize)
        {
            var idx = order.AsSpan(start, Math.Min(options.BatchSize, order.Length - start)).ToArray();
            var tape = network.ForwardWithTape(Act.FromImages(idx.Select(i => fitCut[i]).ToList(), cutShape[0], cutShape[1], cutShape[2]));
            var (loss, right, grad) = head.Run(tape.Output, idx.Select(i => fitLabels[i]).ToList(), options.HeadL2, backward: true);
            network.Backward(tape, grad!);
            optimizer.Step();
            lossSum += loss * idx.Length;
            correct += right;
        }
        return (lossSum / fitCut.Count, (double)correct / fitCut.Count);
    }

    /// <summary>Pools the lanes' scores of one epoch, weighting each lane by its image counts (k folds: every training image once).</summary>
    private static FineTuningEpoch Pool(int epoch, List<Lane> lanes, List<FineTuningEpoch> results, double seconds, double drift)
    {
        double Weighted(Func<FineTuningEpoch, double> value, Func<Lane, int> count) =>
            lanes.Select((l, i) => value(results[i]) * count(l)).Sum() / lanes.Sum(count);
        var hasSelection = lanes.Sum(l => l.SelectionLabels.Length) > 0;
        return new FineTuningEpoch(epoch,
            Weighted(e => e.TrainLoss, l => l.FitLabels.Length), Weighted(e => e.TrainAccuracy, l => l.FitLabels.Length),
            hasSelection ? Weighted(e => e.SelectionLoss, l => l.SelectionLabels.Length) : double.NaN,
            hasSelection ? Weighted(e => e.SelectionAccuracy, l => l.SelectionLabels.Length) : double.NaN,
            seconds, drift);
    }

    /// <summary>Stratified fold of each training image: per class, in a seeded shuffle of path order, dealt round-robin.</summary>
    private static int[] FoldOf(List<LabeledImage> train, int folds, int seed)
    {
        var fold = new int[train.Count];
        var rng = new Random(seed);
        var next = 0; // continues across classes so fold sizes differ by at most one
        foreach (var group in Enumerable.Range(0, train.Count).GroupBy(i => train[i].Label).OrderBy(g => g.Key, StringComparer.Ordinal))
        {
            var members = group.OrderBy(i => train[i].Path, StringComparer.Ordinal).ToArray();
            rng.Shuffle(members);
            foreach (var i in members)
                fold[i] = next++ % folds;
        }
        return fold;
    }

    private static (double Loss, double Accuracy) Measure(SoftmaxHead head, TrainableNetwork network, List<float[]> cut, int[] labels, int[] cutShape)
    {
        if (cut.Count == 0)
            return (double.NaN, double.NaN);
        var (loss, correct, _) = head.Run(Stack(Features(network, cut, cutShape)), labels, 0, backward: false);
        return (loss, (double)correct / cut.Count);
    }

    private static Act Stack(List<float[]> vectors) => Act.FromImages(vectors, vectors[0].Length, 1, 1);

    private static (List<LabeledImage> Fit, List<LabeledImage> Selection, string Name) SelectionSplit(
        Dataset dataset, List<LabeledImage> train, List<LabeledImage> validation, bool heldOutIsValidation, double fraction, int seed)
    {
        if (validation.Count > 0 && !heldOutIsValidation)
            return (train, validation, "the validation split");
        // No usable validation split: carve a stratified share of the training images with the project's splitter.
        var trainOnly = new Dataset
        {
            Root = dataset.Root,
            Layout = DatasetLayout.ClassFolders,
            ClassNames = dataset.ClassNames.Where(c => train.Any(i => i.Label == c)).ToList(),
            Images = train.Select(i => new LabeledImage(i.Path, i.Label)).ToList(),
        };
        var carved = DatasetSplitter.Split(trainOnly, new SplitOptions(fraction, 0, seed));
        var selected = carved.Validation.Select(i => i.Path).ToHashSet(StringComparer.Ordinal);
        return (train.Where(i => !selected.Contains(i.Path)).ToList(), train.Where(i => selected.Contains(i.Path)).ToList(),
            (fraction * 100).ToString("0.#", CultureInfo.InvariantCulture) + "% of the training images" +
            (heldOutIsValidation ? " (the validation split is the held-out set)" : " (there is no validation split)"));
    }

    private static FeatureCache OpenCache(TransferLearningOptions options, ResolvedBackbone resolved, PreparedBackbone frozen, CutPlan plan, Action<string> log)
    {
        var cache = FeatureCache.OpenFor(options.ResolvedWorkspace, "cuts", "activations.bin", resolved.Sha256, frozen, $"cut:{plan.CutTensor}");
        log($"cut-activation cache: {cache.FilePath} ({cache.Count} entries)");
        return cache;
    }

    private static void Validate(FineTuningOptions o)
    {
        string? problem = null;
        if (o.MaxEpochs < 0) problem = "MaxEpochs must not be negative";
        else if (o.BatchSize < 1) problem = "BatchSize must be at least 1";
        else if (o.Patience < 1) problem = "Patience must be at least 1";
        else if (!(o.LearningRate > 0) || !float.IsFinite(o.LearningRate)) problem = "LearningRate must be a positive number";
        else if (!(o.BackboneLearningRateFactor >= 0) || !float.IsFinite(o.BackboneLearningRateFactor)) problem = "BackboneLearningRateFactor must be 0 or more";
        else if (o.HeadWarmupSteps < 0) problem = "HeadWarmupSteps must not be negative";
        else if (o.SelectionFolds < 0) problem = "SelectionFolds must not be negative";
        else if (!(o.SelectionFraction > 0 && o.SelectionFraction < 1)) problem = "SelectionFraction must be between 0 and 1";
        if (problem is not null)
            throw new MLTransferException($"Invalid fine-tuning options: {problem}", null, "Fix the option");
    }

    private static string EpochLine(FineTuningEpoch e) => string.Create(CultureInfo.InvariantCulture,
        $"epoch {e.Epoch,2}: train loss {e.TrainLoss:F4} acc {e.TrainAccuracy:F3} | early-stopping loss {e.SelectionLoss:F4} acc {e.SelectionAccuracy:F3} | drift {e.WeightDrift:E2} | {e.Seconds:F1} s");

    private static string Format(ClassificationMetrics? m) => m is null ? "—" : m.Accuracy.ToString("F4", CultureInfo.InvariantCulture);
}
