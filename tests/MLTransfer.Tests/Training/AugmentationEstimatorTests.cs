using System.Security.Cryptography;
using Microsoft.ML;
using MLTransfer.Backbones;
using MLTransfer.Features;
using MLTransfer.Images;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Training;
using NUnit.Framework;
using Row = MLTransfer.Tests.Training.ImageClassificationEstimatorTests.ImageRow;

namespace MLTransfer.Tests.Training;

/// <summary>
/// Augmentation in the estimator, on a flowers subset with the small MobileNet v1: views are extracted for
/// training images only, cached per view, and a second fit runs nothing through the backbone.
/// </summary>
[NonParallelizable]
public class AugmentationEstimatorTests
{
    private static readonly ImageAugmentation Augmentation = new() { RandomResizedCrops = 2 };
    private string _workspace = "";
    private List<Row> _train = [];
    private List<Row> _validation = [];

    [OneTimeSetUp]
    public void SetUp()
    {
        _workspace = Directory.CreateTempSubdirectory("mltransfer-aug-").FullName;
        (_train, _validation) = ImageClassificationEstimatorTests.Subset(6, 3);
    }

    [OneTimeTearDown]
    public void TearDown()
    {
        try { Directory.Delete(_workspace, true); } catch (IOException) { }
    }

    private ImageClassificationEstimator.Options Options(string workspace) =>
        ImageClassificationEstimatorTests.BaseOptions(workspace) with { Augmentation = Augmentation, Epoch = 15 };

    private static ImageClassificationSummary Fit(ImageClassificationEstimator.Options options, List<Row> train, List<Row>? validation = null)
    {
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(train);
        var toKey = ml.Transforms.Conversion.MapValueToKey("Label").Fit(data);
        if (validation is not null)
            options = options with { ValidationSet = toKey.Transform(ml.Data.LoadFromEnumerable(validation)) };
        var estimator = ml.MulticlassClassification.Trainers.TransferImageClassification(options);
        using var model = estimator.Fit(toKey.Transform(data));
        return model.Summary;
    }

    /// <summary>Content hashes held by each view's cache, read back from disk.</summary>
    private static List<HashSet<string>> ViewCacheContents(string workspace, IEnumerable<string> candidates)
    {
        var resolved = BackboneResolver.Resolve("mobilenet-v1-0.75-192", null, [Path.Combine(TestPaths.SharedDir, "models")], false, _ => { });
        var prepared = ImageClassificationEstimator.PrepareForChain(resolved);
        var hashes = candidates.Select(Hash).ToList();
        var result = new List<HashSet<string>>();
        for (var k = 0; k < Augmentation.ViewCount; k++)
        {
            using var cache = FeatureCache.Open(new FeatureCacheKey(resolved.Sha256, prepared, View: Augmentation.ViewKey(k)).PathIn(workspace), prepared.FeatureSize);
            result.Add(hashes.Where(cache.Contains).ToHashSet());
            Assert.That(cache.Count, Is.EqualTo(result[k].Count), $"view {k} cache holds nothing but these images");
        }
        return result;
    }

    private static string Hash(string relative) =>
        Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(ImageClassificationEstimatorTests.Flowers, relative))));

    [Test]
    public void Views_are_cached_per_view_and_a_second_fit_extracts_nothing()
    {
        var workspace = Path.Combine(_workspace, "second-fit");
        var first = Fit(Options(workspace), _train, _validation);
        var views = Augmentation.ViewCount * _train.Count;
        Assert.That(first.AugmentedExamples, Is.EqualTo(views));
        Assert.That(first.TrainCount, Is.EqualTo(_train.Count));
        Assert.That(first.ImagesExtracted, Is.EqualTo(_train.Count + _validation.Count + views), "every view of every training image ran once");
        Assert.That(first.ImagesFromCache, Is.Zero);

        var second = Fit(Options(workspace), _train, _validation);
        Assert.That(second.ImagesExtracted, Is.Zero, "views come from their caches");
        Assert.That(second.ImagesFromCache, Is.EqualTo(_train.Count + _validation.Count + views));
        // Same views, same seed: the cached features are the features, so the heads are bit-identical.
        for (var l = 0; l < first.Head.Network.Layers.Count; l++)
            Assert.That(second.Head.Network.Layers[l].Weights, Is.EqualTo(first.Head.Network.Layers[l].Weights));

        var unaugmented = Fit(Options(workspace) with { Augmentation = null }, _train, _validation);
        Assert.That(unaugmented.AugmentedExamples, Is.Zero);
        Assert.That(unaugmented.Head.Network.Layers[0].Weights, Is.Not.EqualTo(first.Head.Network.Layers[0].Weights), "the views change the head");
    }

    [Test]
    public void A_given_validation_set_gets_no_views()
    {
        var workspace = Path.Combine(_workspace, "given");
        var summary = Fit(Options(workspace), _train, _validation);
        Assert.That(summary.ValidationCount, Is.EqualTo(_validation.Count));
        var trainHashes = _train.Select(r => Hash(r.ImagePath)).ToHashSet();
        foreach (var contents in ViewCacheContents(workspace, _train.Concat(_validation).Select(r => r.ImagePath)))
            Assert.That(contents, Is.EquivalentTo(trainHashes), "views exist for training images and for no validation image");
    }

    [Test]
    public void A_held_out_validation_split_gets_no_views()
    {
        var workspace = Path.Combine(_workspace, "held-out");
        var all = _train.Concat(_validation).ToList();
        var summary = Fit(Options(workspace) with { ValidationSetFraction = 0.3f }, all);
        Assert.That(summary.ValidationCount, Is.GreaterThan(0));
        Assert.That(summary.TrainCount + summary.ValidationCount, Is.EqualTo(all.Count));
        Assert.That(summary.AugmentedExamples, Is.EqualTo(Augmentation.ViewCount * summary.TrainCount));
        foreach (var contents in ViewCacheContents(workspace, all.Select(r => r.ImagePath)))
            Assert.That(contents, Has.Count.EqualTo(summary.TrainCount), "only the images left for training after the split have views");
    }
}
