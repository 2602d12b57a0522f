using Microsoft.ML;
using Microsoft.ML.Data;
using MLTransfer.Backbones;
using MLTransfer.Features;
using MLTransfer.Heads;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Training;
using NUnit.Framework;

namespace MLTransfer.Tests.Training;

/// <summary>
/// The ML.NET estimator end to end on a flowers subset with the small MobileNet v1: pipeline fit, stock
/// evaluation, save/load in a fresh context, byte input, and options that must take effect.
/// </summary>
[NonParallelizable]
public class ImageClassificationEstimatorTests
{
    public sealed class ImageRow
    {
        public string ImagePath { get; set; } = "";
        public string Label { get; set; } = "";
    }

    public sealed class ScoreRow
    {
        public float[] Score { get; set; } = [];
    }

    private string _workspace = "";
    private List<ImageRow> _train = [];
    private List<ImageRow> _test = [];
    private MLContext _ml = null!;

    public static string Flowers => TestPaths.SharedDataset("flowers");

    public static ImageClassificationEstimator.Options BaseOptions(string workspace) => new()
    {
        Backbone = new() { Name = "mobilenet-v1-0.75-192", Dirs = [Path.Combine(TestPaths.SharedDir, "models")], AllowDownload = false },
        Cache = new() { WorkspacePath = workspace },
        FeatureColumnName = "ImagePath",
        ImageFolder = Flowers,
        Epoch = 30,
        L2Regularization = 1e-3f,
    };

    /// <summary>Per class: the first <paramref name="train"/> files for training, the next <paramref name="test"/> for testing.</summary>
    public static (List<ImageRow> Train, List<ImageRow> Test) Subset(int train, int test)
    {
        var trainRows = new List<ImageRow>();
        var testRows = new List<ImageRow>();
        foreach (var dir in Directory.GetDirectories(Flowers).Order(StringComparer.Ordinal))
        {
            var label = Path.GetFileName(dir);
            var files = Directory.GetFiles(dir, "*.jpg").Order(StringComparer.Ordinal).Select(f => new ImageRow { ImagePath = Path.Combine(label, Path.GetFileName(f)), Label = label }).ToList();
            trainRows.AddRange(files.Take(train));
            testRows.AddRange(files.Skip(train).Take(test));
        }
        return (trainRows, testRows);
    }

    [OneTimeSetUp]
    public void SetUp()
    {
        _workspace = Directory.CreateTempSubdirectory("mltransfer-est-").FullName;
        (_train, _test) = Subset(14, 6);
        _ml = new MLContext(1);
    }

    [OneTimeTearDown]
    public void TearDown()
    {
        try { Directory.Delete(_workspace, true); } catch (IOException) { }
    }

    private (ITransformer Model, ImageClassificationSummary Summary) Fit(ImageClassificationEstimator.Options options)
    {
        var estimator = _ml.MulticlassClassification.Trainers.TransferImageClassification(options);
        var pipeline = _ml.Transforms.Conversion.MapValueToKey("Label").Append(estimator);
        var model = pipeline.Fit(_ml.Data.LoadFromEnumerable(_train));
        return (model, model.LastTransformer.Summary);
    }

    private float[][] Scores(MLContext ml, ITransformer model, IEnumerable<ImageRow> rows) =>
        ml.Data.CreateEnumerable<ScoreRow>(model.Transform(ml.Data.LoadFromEnumerable(rows)), reuseRowObject: false).Select(r => r.Score).ToArray();

    [Test]
    public void Pipeline_fits_evaluates_with_stock_MLNet_and_reloads_in_a_fresh_context()
    {
        var (model, summary) = Fit(BaseOptions(_workspace) with { HiddenLayers = [32] });
        var scored = model.Transform(_ml.Data.LoadFromEnumerable(_test));
        var metrics = _ml.MulticlassClassification.Evaluate(scored);
        Assert.That(metrics.MicroAccuracy, Is.GreaterThan(0.6), "5 classes: chance is 0.2");
        Assert.That(summary.ClassNames, Is.EqualTo(new[] { "daisy", "dandelion", "roses", "sunflowers", "tulips" }));

        // PredictedLabel is a scalar key with the label's key values, as every ML.NET multiclass trainer makes it.
        Assert.That(scored.Schema["PredictedLabel"].Type, Is.InstanceOf<KeyDataViewType>());
        var names = _ml.Transforms.Conversion.MapKeyToValue("PredictedName", "PredictedLabel").Fit(scored).Transform(scored)
            .GetColumn<string>("PredictedName").ToList();
        var scores = scored.GetColumn<float[]>("Score").ToList();
        for (var i = 0; i < names.Count; i++)
            Assert.That(names[i], Is.EqualTo(summary.ClassNames[Array.IndexOf(scores[i], scores[i].Max())]));
        Assert.That(scores.All(s => Math.Abs(s.Sum() - 1) < 1e-4));

        var zip = Path.Combine(_workspace, "model.zip");
        _ml.Model.Save(model, null, zip);
        var fresh = new MLContext();
        var loaded = fresh.Model.Load(zip, out _);
        var reloaded = Scores(fresh, loaded, _test);
        for (var i = 0; i < reloaded.Length; i++)
            Assert.That(reloaded[i], Is.EqualTo(scores[i]).Within(1e-5f));
    }

    public sealed class BytesScoreRow
    {
        public float[] Score { get; set; } = [];
    }

    private (ITransformer Model, ImageClassificationSummary Summary) FitBytes(ImageClassificationEstimator.Options options)
    {
        var estimator = _ml.MulticlassClassification.Trainers.TransferImageClassification(options with { FeatureColumnName = "Bytes", ImageFolder = null });
        var pipeline = _ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(_ml.Transforms.LoadRawImageBytes("Bytes", Flowers, "ImagePath"))
            .Append(estimator);
        var model = pipeline.Fit(_ml.Data.LoadFromEnumerable(_train));
        return (model, model.LastTransformer.Summary);
    }

    [Test]
    public void Raw_image_bytes_train_evaluate_and_reload_in_a_fresh_context()
    {
        var (model, _) = FitBytes(BaseOptions(_workspace));
        var scored = model.Transform(_ml.Data.LoadFromEnumerable(_test));
        Assert.That(_ml.MulticlassClassification.Evaluate(scored).MicroAccuracy, Is.GreaterThan(0.6), "5 classes: chance is 0.2");
        var scores = Scores(_ml, model, _test);

        var zip = Path.Combine(_workspace, "bytes-model.zip");
        _ml.Model.Save(model, null, zip);
        var fresh = new MLContext();
        // The documented line for apps that load a bytes model before touching any MLTransfer type.
        fresh.ComponentCatalog.RegisterAssembly(typeof(ImageBytesDecoding).Assembly);
        var reloaded = Scores(fresh, fresh.Model.Load(zip, out _), _test);
        for (var i = 0; i < reloaded.Length; i++)
            Assert.That(reloaded[i], Is.EqualTo(scores[i]).Within(1e-5f));
    }

    [TestCase(false)]
    [TestCase(true)]
    public void Training_features_are_computed_from_the_pixels_the_saved_chain_sees(bool bytes)
    {
        var (model, summary) = bytes ? FitBytes(BaseOptions(_workspace)) : Fit(BaseOptions(_workspace));
        var rows = _train.Take(10).ToList();
        var chainScores = Scores(_ml, model, rows);

        var resolved = BackboneResolver.Resolve("mobilenet-v1-0.75-192", null, [Path.Combine(TestPaths.SharedDir, "models")], false, _ => { });
        var prepared = ImageClassificationEstimator.PrepareForChain(resolved);
        using var session = new BackboneSession(prepared);
        using var loader = new ChainImageLoader(bytes, prepared.InputWidth, prepared.InputHeight, prepared.Description.ResizeMode);
        var sources = rows.Select(r => Path.Combine(Flowers, r.ImagePath))
            .Select(p => bytes ? ImageSource.Encoded(File.ReadAllBytes(p), p) : ImageSource.File(p)).ToList();
        double MaxDiff(Func<ImageSource, byte[], string, MLTransfer.Images.DecodedImage>? decode)
        {
            var features = FeatureExtractor.Extract(sources, session, null, new(), CancellationToken.None, decode).Features;
            return features.Select((f, i) => summary.Head.Network.Predict(f!).Zip(chainScores[i], (a, b) => Math.Abs(a - b)).Max()).Max();
        }

        Assert.That(MaxDiff((s, b, _) => loader.Decode(s.Path ?? s.Name, b)), Is.LessThanOrEqualTo(1e-4), "head on training-time features vs the saved chain's scores");
        // ML.NET resizes differently from our decoder: the check above would catch training on our pixels.
        Assert.That(MaxDiff(null), Is.GreaterThan(1e-3), "the decoders differ, so the comparison above is a real one");
    }

    [Test]
    public void Options_take_effect()
    {
        var baseline = Fit(BaseOptions(_workspace)).Summary;
        Assert.That(baseline.ImagesFromCache + baseline.ImagesExtracted, Is.EqualTo(_train.Count));

        var lr = Fit(BaseOptions(_workspace) with { LearningRate = 0.01f }).Summary;
        Assert.That(lr.Head.History.Select(h => h.TrainLoss), Is.Not.EqualTo(baseline.Head.History.Select(h => h.TrainLoss)), "LearningRate");

        var seen = new List<EpochMetrics>();
        var stopped = Fit(BaseOptions(_workspace) with { Epoch = 500, LearningRate = 0.05f, L2Regularization = 0, EarlyStoppingCriteria = new EarlyStoppingCriteria(Patience: 2), MetricsCallback = seen.Add }).Summary;
        Assert.That(stopped.Head.StoppedEarly, Is.True, "patience");
        Assert.That(seen, Has.Count.EqualTo(stopped.Head.History.Count).And.Count.LessThan(500));

        var auto = Fit(BaseOptions(_workspace) with { L2Regularization = null, L2Candidates = [1e-4f, 0.1f] }).Summary;
        Assert.That(auto.L2Search.Keys, Is.EquivalentTo(new[] { 1e-4f, 0.1f }));
        Assert.That(auto.Head.L2Regularization, Is.EqualTo(auto.L2Search.MinBy(p => p.Value).Key));

        var noValidation = Fit(BaseOptions(_workspace) with { ValidationSetFraction = 0 }).Summary;
        Assert.That(noValidation.ValidationCount, Is.Zero);
        Assert.That(noValidation.TrainCount, Is.EqualTo(_train.Count));
        Assert.That(baseline.ValidationCount, Is.EqualTo(10), "15 % of 14 per class, rounded: 2 × 5 classes");

        var given = Fit(BaseOptions(_workspace) with { ValidationSet = _ml.Transforms.Conversion.MapValueToKey("Label").Fit(_ml.Data.LoadFromEnumerable(_train)).Transform(_ml.Data.LoadFromEnumerable(_test)) }).Summary;
        Assert.That(given.ValidationCount, Is.EqualTo(_test.Count));

        var cv = Fit(BaseOptions(_workspace) with { Folds = 3 }).Summary;
        Assert.That(cv.CrossValidation!.Runs, Is.EqualTo(3));
        Assert.That(cv.CrossValidation.Accuracy.Std, Is.GreaterThanOrEqualTo(0));

        var weighted = Fit(BaseOptions(_workspace) with { ClassWeights = [5f, 1f, 1f, 1f, 1f] }).Summary;
        Assert.That(weighted.Head.History.Select(h => h.TrainLoss), Is.Not.EqualTo(baseline.Head.History.Select(h => h.TrainLoss)), "ClassWeights");

        var seeded = Fit(BaseOptions(_workspace) with { Seed = 9 }).Summary;
        Assert.That(seeded.Head.History.Select(h => h.TrainLoss), Is.Not.EqualTo(baseline.Head.History.Select(h => h.TrainLoss)), "Seed");
        var again = Fit(BaseOptions(_workspace)).Summary;
        Assert.That(again.Head.History, Is.EqualTo(baseline.Head.History), "same seed, same run");
        Assert.That(again.ImagesFromCache, Is.EqualTo(_train.Count), "WorkspacePath cache reused");

        var uncached = Fit(BaseOptions(_workspace) with { Cache = new() { Enabled = false } }).Summary;
        Assert.That(uncached.ImagesFromCache, Is.Zero, "ReuseTrainSetBottleneckCachedValues = false");
    }

    [Test]
    public void A_label_that_is_not_a_key_is_refused_with_a_fix()
    {
        var estimator = _ml.MulticlassClassification.Trainers.TransferImageClassification(BaseOptions(_workspace));
        var e = Assert.Throws<MLTransferException>(() => estimator.Fit(_ml.Data.LoadFromEnumerable(_train)));
        Assert.That(e!.Message, Does.Contain("MapValueToKey"));
    }
}
