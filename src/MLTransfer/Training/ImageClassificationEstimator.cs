using System.Globalization;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLTransfer.Backbones;
using MLTransfer.Backbones.Store;
using MLTransfer.Evaluation;
using MLTransfer.Export;
using MLTransfer.Features;
using MLTransfer.Heads;
using MLTransfer.Images;

namespace MLTransfer.Training;

/// <summary>
/// An ML.NET estimator that trains an image classifier by transfer learning without TensorFlow: a frozen
/// ONNX backbone turns images into features (cached on disk), and a softmax or MLP head is trained on them.
/// Created by <see cref="ImageClassificationCatalog.TransferImageClassification(MulticlassClassificationCatalog.MulticlassClassificationTrainers, ImageClassificationEstimator.Options)"/>.
/// </summary>
/// <remarks>
/// <see cref="Fit"/> returns a chain of stock ML.NET transforms (LoadImages → ResizeImages → ExtractPixels →
/// ApplyOnnxModel(backbone) → ApplyOnnxModel(head) → key mapping), so a path model's zip loads with plain
/// <c>mlContext.Model.Load</c> in any app, with no custom type registration. For a raw-bytes column the
/// first step is <see cref="ImageBytesDecoding"/> instead (ML.NET cannot decode bytes). Training decodes
/// images through that same first step and ResizeImages, so its features equal the saved model's.
/// Output columns, as every ML.NET multiclass trainer has them: <c>Score</c> (class probabilities in label
/// key order, with the class names as slot names) and <c>PredictedLabel</c> (a scalar key typed like the
/// label, so <c>MapKeyToValue("PredictedLabel")</c> gives the class name). The saved zip also carries
/// MLTransfer's metadata, so <c>mltransfer predict</c>, <c>evaluate</c>, <c>report</c>, <c>export</c>,
/// <see cref="Inference.ImageClassifier"/> and the service take it like a <c>train</c> zip.
/// </remarks>
public sealed partial class ImageClassificationEstimator : IEstimator<ImageClassificationTransformer>
{
    private const string TempImage = ImageBytesDecoding.OutputColumn;
    internal const int SupersampleFactor = 2;
    private readonly Options _options;

    /// <summary>Creates the estimator; prefer the catalog extension.</summary>
    public ImageClassificationEstimator(Options options)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
    }

    /// <inheritdoc />
    public SchemaShape GetOutputSchema(SchemaShape inputSchema)
    {
        var label = inputSchema.FirstOrDefault(c => c.Name == _options.LabelColumnName);
        if (label.Name is null || !label.IsKey)
            throw new ArgumentException($"Column '{_options.LabelColumnName}' must exist and be a key (use MapValueToKey).", nameof(inputSchema));
        if (!inputSchema.Any(c => c.Name == _options.FeatureColumnName))
            throw new ArgumentException($"Image column '{_options.FeatureColumnName}' not found.", nameof(inputSchema));
        // SchemaShape columns cannot be constructed outside ML.NET; stock estimators yield exactly the
        // shapes Fit produces: a known-size float vector (Score) and a scalar key typed like the label.
        var ml = new MLContext();
        return ml.Transforms.Conversion.MapKeyToVector(_options.ScoreColumnName, _options.LabelColumnName)
            .Append(ml.Transforms.CopyColumns(_options.PredictedLabelColumnName, _options.LabelColumnName))
            .GetOutputSchema(inputSchema);
    }

    /// <summary>
    /// Extracts features, trains the head and returns the fitted model: the scoring chain (stock ML.NET
    /// transforms, saved as such) together with what the fit did (<see cref="ImageClassificationTransformer.Summary"/>).
    /// The estimator itself is not changed, as ML.NET estimators are not.
    /// </summary>
    /// <exception cref="MLTransferException">Bad columns, no usable images, or a backbone that cannot be found.</exception>
    public ImageClassificationTransformer Fit(IDataView input)
    {
        var o = _options;
        var log = o.Log ?? (_ => { });
        o.Augmentation?.Validate();
        var (classNames, train, trainSkipped, isBytes) = ReadRows(input, o, "training data");
        var resolved = BackbonePreparation.Resolve(o.Backbone, log, CancellationToken.None);
        // The saved chain resizes with ML.NET's nearest-pixel ResizeImages; at twice the size and box-filtered
        // in the graph, that costs no accuracy (see BackboneGraph.WithSupersampledInput).
        var prepared = PrepareForChain(resolved);
        var validationRows = ReadValidation(classNames);
        using var session = new BackboneSession(prepared, o.Extraction.InferenceThreads);

        var extraction = ExtractChainFeatures([.. train, .. validationRows.Rows], isBytes, session, resolved.Sha256, log);
        var skipped = trainSkipped.Concat(validationRows.Skipped).Concat(extraction.Skipped.Select(s => $"{s.Path}: {s.Reason}")).ToList();
        log(string.Create(CultureInfo.InvariantCulture, $"features: {extraction.Extracted} extracted, {extraction.FromCache} from cache, {skipped.Count} rows skipped"));
        var (all, trainSet, validationSet, trainRows) = Sets(train, validationRows.Rows, extraction.Features, classNames.Count);
        var (augmented, viewCounts) = Augment(trainSet, trainRows.Select(i => train[i]).ToList(), session, resolved.Sha256, prepared, log);

        var headOptions = HeadOptions(augmented, classNames.Count);
        var validation = validationSet.Count > 0 ? validationSet : null;
        var (head, search) = TrainHead(augmented, classNames.Count, validation, headOptions, log);
        ClassificationMetrics? validationMetrics = validation is null ? null :
            MetricsCalculator.Compute(classNames, validation.Labels, validation.Features.Select(f => head.Network.Predict(f)).ToList());
        MetricsSummary? cv = o.Folds >= 2 ? CrossValidate(all, classNames, o.Folds, headOptions with { L2Regularization = head.L2Regularization, Epoch = head.BestEpoch, EarlyStopping = null }, o.Seed) : null;

        var headOnnx = OnnxHeadExporter.Build(head.Network, classNames);
        var summary = new ImageClassificationSummary
        {
            ClassNames = classNames,
            Backbone = resolved.Description.Name,
            TrainCount = trainSet.Count,
            ValidationCount = validationSet.Count,
            Skipped = skipped,
            Head = head,
            L2Search = search,
            Validation = validationMetrics,
            CrossValidation = cv,
            ImagesExtracted = extraction.Extracted + viewCounts.Extracted,
            ImagesFromCache = extraction.FromCache + viewCounts.FromCache,
            AugmentedExamples = augmented.Count - trainSet.Count,
        };
        var metadata = Metadata(resolved, prepared, classNames, trainSet, validationSet, skipped.Count, validationMetrics, isBytes);
        return new ImageClassificationTransformer(BuildChain(input, prepared, headOnnx, classNames, isBytes), summary, headOnnx, metadata);
    }

    /// <summary>What the saved zip carries for MLTransfer's tools, as a <c>train</c> zip does.</summary>
    private ModelMetadata Metadata(ResolvedBackbone resolved, PreparedBackbone prepared, IReadOnlyList<string> classNames, HeadExamples train,
        HeadExamples validation, int skipped, ClassificationMetrics? validationMetrics, bool isBytes)
    {
        var o = _options;
        IReadOnlyDictionary<string, int> Counts(HeadExamples set) => classNames.Select((c, k) => (c, n: set.Labels.Count(l => l == k))).ToDictionary(p => p.c, p => p.n);
        return new ModelMetadata
        {
            FormatVersion = ModelPackage.CurrentFormatVersion,
            ClassNames = classNames,
            // The chain feeds the graph images at its supersampled size; the metadata says what the graph takes.
            Backbone = prepared.Description with { InputWidth = prepared.InputWidth, InputHeight = prepared.InputHeight },
            BackboneSha256 = resolved.Sha256,
            BackboneReason = resolved.Reason,
            FeatureSize = prepared.FeatureSize,
            Head = (o.HiddenLayers.Count == 0 ? "softmax" : "mlp " + string.Join('-', o.HiddenLayers)) + " (TransferImageClassification)",
            Seed = o.Seed,
            DataSource = o.ImageFolder is null ? null : Path.GetFullPath(o.ImageFolder),
            DatasetCounts = new Dictionary<string, IReadOnlyDictionary<string, int>> { ["train"] = Counts(train), ["validation"] = Counts(validation) },
            SkippedFiles = skipped,
            Metrics = validationMetrics is null ? new Dictionary<string, IReadOnlyDictionary<string, double>>() : new Dictionary<string, IReadOnlyDictionary<string, double>>
            {
                ["validation"] = new Dictionary<string, double> { ["accuracy"] = validationMetrics.Accuracy, ["macroAccuracy"] = validationMetrics.MacroAccuracy, ["logLoss"] = validationMetrics.LogLoss },
            },
            InputKind = isBytes ? ModelInputKind.ImageBytes : ModelInputKind.ImagePath,
            InputColumn = o.FeatureColumnName,
            ScoreColumn = o.ScoreColumnName,
        };
    }

    private (IReadOnlyList<Row> Rows, List<string> Skipped) ReadValidation(IReadOnlyList<string> classNames)
    {
        if (_options.ValidationSet is not { } vs)
            return ([], []);
        var v = ReadRows(vs, _options, "validation set");
        if (!v.ClassNames.SequenceEqual(classNames))
            throw new MLTransferException("The validation set's label keys differ from the training data's", _options.LabelColumnName,
                "Map both with the same MapValueToKey transformer (fit it once, transform both)");
        return (v.Rows, v.Skipped);
    }

    /// <summary>
    /// Features of every row, from the saved chain's own image steps (LoadImages or the bytes decoder, then
    /// ResizeImages), so features at training and at prediction agree exactly whatever ML.NET's decoder and
    /// resizer do differently from ours.
    /// </summary>
    private FeatureExtractionResult ExtractChainFeatures(IReadOnlyList<Row> rows, bool isBytes, BackboneSession session, string backboneSha256, Action<string> log)
    {
        var prepared = session.Backbone;
        using var loader = new ChainImageLoader(isBytes, prepared.InputWidth, prepared.InputHeight, prepared.Description.ResizeMode);
        using var cache = FeatureCache.OpenFor(_options.Cache ?? new(), new FeatureCacheKey(backboneSha256, prepared, Pixels: ChainPixelsKey(isBytes)), log, CancellationToken.None);
        return FeatureExtractor.Extract(rows.Select(r => r.Source).ToList(), session, cache, _options.Extraction, CancellationToken.None,
            (source, bytes, _) => loader.Decode(source.Path ?? source.Name, bytes));
    }

    /// <summary>The usable examples, split into training and validation (given, or a stratified share), and the row of each training example.</summary>
    private (HeadExamples All, HeadExamples Train, HeadExamples Validation, List<int> TrainRows) Sets(IReadOnlyList<Row> train, IReadOnlyList<Row> validationRows,
        float[]?[] features, int classes)
    {
        static (HeadExamples Examples, List<int> Rows) Usable(IReadOnlyList<Row> rows, ReadOnlySpan<float[]?> features)
        {
            var keep = new List<int>();
            for (var i = 0; i < rows.Count; i++)
                if (features[i] is not null)
                    keep.Add(i);
            var f = features.ToArray();
            return (new HeadExamples(keep.Select(i => f[i]!).ToList(), keep.Select(i => rows[i].Label).ToList()), keep);
        }
        var (all, allRows) = Usable(train, features.AsSpan(0, train.Count));
        HeadExamples trainSet, validationSet;
        List<int> trainRows;
        if (_options.ValidationSet is not null)
        {
            (trainSet, trainRows) = (all, allRows);
            validationSet = Usable(validationRows, features.AsSpan(train.Count)).Examples;
        }
        else
        {
            var (t, v) = StratifiedSplit(all, classes, _options.ValidationSetFraction, _options.Seed);
            (trainSet, validationSet, trainRows) = (all.Subset(t), all.Subset(v), t.Select(i => allRows[i]).ToList());
        }
        if (trainSet.Count == 0)
            throw new MLTransferException("No usable training images", _options.FeatureColumnName, "Check the image column and folder; see the skipped rows in the log");
        return (all, trainSet, validationSet, trainRows);
    }

    /// <summary>
    /// The training examples plus their augmentation views. Only training rows get views: the validation set
    /// (given or held out) must measure the images as prediction will see them.
    /// </summary>
    private (HeadExamples Examples, (int Extracted, int FromCache) Counts) Augment(HeadExamples trainSet, IReadOnlyList<Row> rows, BackboneSession session,
        string backboneSha256, PreparedBackbone prepared, Action<string> log)
    {
        if (_options.Augmentation is not { ViewCount: > 0 } augmentation)
            return (trainSet, (0, 0));
        var r = FeatureExtractor.ExtractViews(rows.Select(r => r.Source).ToList(), augmentation, session,
            k => FeatureCache.OpenFor(_options.Cache ?? new(), new FeatureCacheKey(backboneSha256, prepared, View: augmentation.ViewKey(k)), log, CancellationToken.None),
            _options.Extraction, CancellationToken.None);
        var failed = rows.Count * augmentation.ViewCount - r.Views.Count;
        log(string.Create(CultureInfo.InvariantCulture,
            $"augmentation: {augmentation.ViewCount} views × {rows.Count} training images → {r.Views.Count} extra examples ({r.Extracted} extracted, {r.FromCache} from cache{(failed > 0 ? $", {failed} failed" : "")})"));
        var examples = new HeadExamples([.. trainSet.Features, .. r.Views.Select(v => v.Features)], [.. trainSet.Labels, .. r.Views.Select(v => rows[v.Source].Label)]);
        return (examples, (r.Extracted, r.FromCache));
    }

    private HeadTrainingOptions HeadOptions(HeadExamples train, int classes)
    {
        var o = _options;
        return new HeadTrainingOptions
        {
            HiddenLayers = o.HiddenLayers,
            Dropout = o.Dropout,
            Epoch = o.Epoch,
            BatchSize = o.BatchSize,
            LearningRate = o.LearningRate,
            Optimizer = o.Optimizer,
            Momentum = o.Momentum,
            LearningRateScheduler = o.LearningRateScheduler,
            EarlyStopping = o.EarlyStoppingCriteria,
            ClassWeights = o.ClassWeights ?? (o.BalanceClasses ? BalancedWeights(train, classes) : null),
            Seed = o.Seed,
        };
    }

    /// <summary>Trains the head with the given L2, or chooses L2 on the validation set among the candidates.</summary>
    private (HeadTrainingResult Head, Dictionary<float, double> Search) TrainHead(HeadExamples train, int classes, HeadExamples? validation,
        HeadTrainingOptions headOptions, Action<string> log)
    {
        var o = _options;
        var search = new Dictionary<float, double>();
        HeadTrainingResult head;
        if (o.L2Regularization is not null || validation is null)
        {
            head = NeuralHeadTrainer.Train(train, classes, validation, headOptions with { L2Regularization = o.L2Regularization ?? 1e-4f, MetricsCallback = o.MetricsCallback });
        }
        else
        {
            HeadTrainingResult? best = null;
            double bestScore = double.PositiveInfinity;
            foreach (var l2 in o.L2Candidates)
            {
                var candidate = NeuralHeadTrainer.Train(train, classes, validation, headOptions with { L2Regularization = l2 });
                var score = Score(candidate, o.EarlyStoppingCriteria);
                search[l2] = score;
                log(string.Create(CultureInfo.InvariantCulture, $"L2 {l2:G3}: best epoch {candidate.BestEpoch}, validation score {score:F4}"));
                if (score < bestScore)
                    (best, bestScore) = (candidate, score);
            }
            head = best!;
            // The curve is reported once, for the model kept, so callers see one coherent trajectory.
            foreach (var m in head.History)
                o.MetricsCallback?.Invoke(m);
        }
        log(string.Create(CultureInfo.InvariantCulture,
            $"head: {(o.HiddenLayers.Count == 0 ? "softmax" : "mlp " + string.Join('-', o.HiddenLayers))}, L2 {head.L2Regularization:G3}, {head.History.Count} epochs run, best epoch {head.BestEpoch}{(head.StoppedEarly ? " (stopped early)" : "")}"));
        return (head, search);
    }

    /// <summary>The backbone graph the saved chain runs: prepared, taking images at <see cref="SupersampleFactor"/> × its size.</summary>
    internal static PreparedBackbone PrepareForChain(ResolvedBackbone resolved) =>
        BackboneGraph.WithSupersampledInput(BackboneGraph.Prepare(resolved.FilePath, resolved.Description), SupersampleFactor);

    /// <summary>Names the pixels of the saved chain's image steps in the feature cache key.</summary>
    private static string ChainPixelsKey(bool isBytes)
    {
        var mlnet = typeof(MLImage).Assembly.GetName().Version;
        return isBytes ? $"chain-bytes|{FeatureCache.DecoderVersion}|{ImageBytesDecoding.ContractName}|resize-mlnet-{mlnet}" : $"chain-path|loadimages-mlnet-{mlnet}";
    }

    /// <summary>The first step: ML.NET's LoadImages for paths, or the bytes decoder (a CustomMapping) for bytes.</summary>
    private IEstimator<ITransformer> ImageStep(MLContext ml, bool isBytes) => isBytes
        ? ml.Transforms.CopyColumns(ImageBytesDecoding.InputColumn, _options.FeatureColumnName)
            .Append(ml.Transforms.CustomMapping(new ImageBytesDecoding().GetMapping(), ImageBytesDecoding.ContractName))
        : ml.Transforms.LoadImages(TempImage, _options.ImageFolder, _options.FeatureColumnName);

    private ITransformer BuildChain(IDataView input, PreparedBackbone prepared, byte[] headOnnx, IReadOnlyList<string> classNames, bool isBytes)
    {
        var o = _options;
        var ml = ProcessTemp.NewMLContext(o.Seed);
        var d = prepared.Description;
        var features = ImageStep(ml, isBytes)
            .Append(ml.Transforms.ResizeImages(TempImage, prepared.InputWidth, prepared.InputHeight, TempImage, ModelPipeline.ToMLNet(d.ResizeMode)))
            .Append(ml.Transforms.ExtractPixels(PreparedBackbone.InputName, TempImage,
                colorsToExtract: ImagePixelExtractingEstimator.ColorBits.Rgb,
                orderOfExtraction: d.ChannelOrder == ChannelOrder.Bgr ? ImagePixelExtractingEstimator.ColorsOrder.ABGR : ImagePixelExtractingEstimator.ColorsOrder.ARGB,
                interleavePixelColors: false))
            .Append(ml.Transforms.ApplyOnnxModel([PreparedBackbone.OutputName], [PreparedBackbone.InputName], new MemoryStream(prepared.OnnxBytes)))
            .Append(ml.Transforms.ApplyOnnxModel([OnnxHeadExporter.LogitsName], [OnnxHeadExporter.InputName], new MemoryStream(headOnnx)))
            // Every step is fixed (nothing is learnt from rows), so fitting only propagates the schema.
            .Fit(input);
        var scorer = StockMulticlassScorer.Create(ml, features.GetOutputSchema(input.Schema), OnnxHeadExporter.LogitsName, o.LabelColumnName,
            o.ScoreColumnName, o.PredictedLabelColumnName, classNames);
        var scored = features.Append(scorer);
        var drop = ml.Transforms.DropColumns([TempImage, PreparedBackbone.InputName, PreparedBackbone.OutputName, OnnxHeadExporter.LogitsName,
            .. (isBytes ? new[] { ImageBytesDecoding.InputColumn } : [])]).Fit(scored.Transform(input));
        return scored.Append(drop);
    }
}
