using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Microsoft.ML.Transforms.Image;
using MLTransfer.Backbones;
using MLTransfer.Backbones.Onnx;
using MLTransfer.Export;
using MLTransfer.Heads;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Tests.Training;
using MLTransfer.Training;
using NUnit.Framework;

namespace MLTransfer.Tests.Export;

/// <summary>
/// The fused ONNX model (pixels → backbone → head → probabilities) gives the zip's probabilities within
/// 1e-5 on 20 images, for the trained ONNX head and for the L-BFGS head (at the calibrated temperature, with the
/// backbone's features and the out-of-domain score as further outputs).
/// </summary>
[NonParallelizable]
public class FusedOnnxExportTests
{
    private string _workspace = "";

    [OneTimeSetUp]
    public void SetUp() => _workspace = Directory.CreateTempSubdirectory("mltransfer-fused-").FullName;

    [OneTimeTearDown]
    public void TearDown()
    {
        try { Directory.Delete(_workspace, true); } catch (IOException) { }
    }

    private static float[][] RunFused(byte[] onnx, IReadOnlyList<float[]> pixels, int width, int height, string output = FusedOnnxExporter.OutputName)
    {
        using var session = new InferenceSession(onnx);
        return pixels.Select(p =>
        {
            using var results = session.Run([NamedOnnxValue.CreateFromTensor(PreparedBackbone.InputName, new DenseTensor<float>(p, [1, 3, height, width]))]);
            return results.Single(r => r.Name == output).AsEnumerable<float>().ToArray();
        }).ToArray();
    }

    [Test]
    public void Fused_export_of_a_TransferImageClassification_zip_matches_the_zip()
    {
        var ml = new MLContext(1);
        var (train, test) = ImageClassificationEstimatorTests.Subset(8, 4);
        var options = ImageClassificationEstimatorTests.BaseOptions(_workspace) with { HiddenLayers = [16], Epoch = 15 };
        var model = ml.Transforms.Conversion.MapValueToKey("Label").Append(ml.MulticlassClassification.Trainers.TransferImageClassification(options))
            .Fit(ml.Data.LoadFromEnumerable(train));
        var zip = Path.Combine(_workspace, "mlp.zip");
        ml.Model.Save(model, null, zip);

        var fused = FusedOnnxExporter.Export(zip);
        var parsed = OnnxModelIO.Parse(fused);
        Assert.That(OnnxHeadExporter.ReadClassNames(parsed), Is.EqualTo(new[] { "daisy", "dandelion", "roses", "sunflowers", "tulips" }));
        // No MLTransfer metadata, so no calibration: probabilities and features only.
        Assert.That(parsed.Graph.Output.Select(o => o.Name), Is.EqualTo(new[] { FusedOnnxExporter.OutputName, FusedOnnxExporter.FeaturesOutputName }));

        var fresh = new MLContext();
        var loaded = fresh.Model.Load(zip, out _);
        var data = fresh.Data.LoadFromEnumerable(test);
        var zipScores = loaded.Transform(data).GetColumn<float[]>("Score").ToArray();
        // The same stock transforms the zip runs, stopped at the pixels, so both sides see identical input.
        // The estimator's chain takes images at twice the backbone's 192 and box-filters them in the graph.
        var size = 192 * ImageClassificationEstimator.SupersampleFactor;
        Assert.That(parsed.Graph.Input[0].Type.TensorType.Shape.Dim.Skip(2).Select(d => d.DimValue), Is.EqualTo(new long[] { size, size }));
        var pixels = fresh.Transforms.LoadImages("img", ImageClassificationEstimatorTests.Flowers, "ImagePath")
            .Append(fresh.Transforms.ResizeImages("img", size, size, "img", ImageResizingEstimator.ResizingKind.Fill))
            .Append(fresh.Transforms.ExtractPixels("px", "img", interleavePixelColors: false))
            .Fit(data).Transform(data).GetColumn<float[]>("px").ToArray();
        var onnxScores = RunFused(fused, pixels, size, size);
        Assert.That(zipScores, Has.Length.EqualTo(20));
        for (var i = 0; i < zipScores.Length; i++)
            Assert.That(onnxScores[i], Is.EqualTo(zipScores[i]).Within(1e-5f), $"image {i}");
    }

    [Test]
    public void Fused_export_of_an_LBFGS_zip_matches_the_zip()
    {
        using var dataset = new TempDataset();
        var (train, test) = ImageClassificationEstimatorTests.Subset(8, 4);
        foreach (var row in train)
            File.Copy(Path.Combine(ImageClassificationEstimatorTests.Flowers, row.ImagePath), dataset.PathOf(Path.Combine(row.Label, Path.GetFileName(row.ImagePath))).EnsureDir());
        using var trained = TransferLearner.Train(dataset.Root, new TransferLearningOptions
        {
            Backbone = new() { Name = "mobilenet-v1-0.75-192", Dirs = [Path.Combine(TestPaths.SharedDir, "models")], AllowDownload = false },
            Cache = new() { WorkspacePath = _workspace },
            ValidationFraction = 0.25,
            TestFraction = 0,
        });
        var zip = Path.Combine(_workspace, "lbfgs.zip");
        trained.Save(zip);
        var fused = FusedOnnxExporter.Export(zip);
        var parsed = OnnxModelIO.Parse(fused);
        Assert.That(OnnxHeadExporter.ReadClassNames(parsed), Is.EqualTo(trained.Metadata.ClassNames));
        Assert.That(parsed.Graph.Output.Select(o => o.Name),
            Is.EqualTo(new[] { FusedOnnxExporter.OutputName, FusedOnnxExporter.FeaturesOutputName, FusedOnnxExporter.OutOfDomainOutputName }));
        // A temperature of 1 would make the check below pass without the graph applying it.
        var calibration = trained.Metadata.Calibration!;
        Assert.That(calibration.Temperature, Is.Not.EqualTo(1).Within(0.02), "a fitted temperature");

        // Score through the zip with stock ML.NET: its chain starts from an image column named "Image".
        var fresh = new MLContext();
        var loaded = fresh.Model.Load(zip, out _);
        var data = fresh.Data.LoadFromEnumerable(test);
        var images = fresh.Transforms.LoadImages(ModelPipeline.ImageColumn, ImageClassificationEstimatorTests.Flowers, "ImagePath").Fit(data).Transform(data);
        // The zip's own chain cannot bind in plain ML.NET today (its ONNX step outputs Vector<1, F>, the
        // head was trained on Vector<F>), so run its two halves: the featurizer, then the head transforms
        // on the same features re-typed as Vector<F>.
        static IEnumerable<ITransformer> Steps(ITransformer t) => t is IEnumerable<ITransformer> c ? c.SelectMany(Steps) : [t];
        var parts = Steps(loaded).ToList();
        var headStart = parts.FindIndex(t => t is Microsoft.ML.Transforms.LpNormNormalizingTransformer);
        var features = new TransformerChain<ITransformer>(parts.Take(headStart).ToArray()).Transform(images).GetColumn<float[]>(HeadTrainer.FeaturesColumn).ToList();
        var head = new TransformerChain<ITransformer>(parts.Skip(headStart).ToArray());
        // The chain ends in the temperature's steps, so its scores are the calibrated ones.
        var zipScores = HeadTrainer.Score(fresh, head, features);
        var pixels = fresh.Transforms.ResizeImages("img", 192, 192, ModelPipeline.ImageColumn, ImageResizingEstimator.ResizingKind.Fill)
            .Append(fresh.Transforms.ExtractPixels("px", "img", interleavePixelColors: false))
            .Fit(images).Transform(images).GetColumn<float[]>("px").ToArray();
        var onnxScores = RunFused(fused, pixels, 192, 192);
        Assert.That(zipScores, Has.Length.EqualTo(20));
        for (var i = 0; i < zipScores.Length; i++)
            Assert.That(onnxScores[i], Is.EqualTo(zipScores[i]).Within(1e-5f), $"image {i}");

        // The graph's features are the chain's, and its out-of-domain score is the one ImageClassifier computes from them.
        var onnxFeatures = RunFused(fused, pixels, 192, 192, FusedOnnxExporter.FeaturesOutputName);
        var onnxDistances = RunFused(fused, pixels, 192, 192, FusedOnnxExporter.OutOfDomainOutputName);
        var reference = ModelPackage.Load(fresh, zip).Metadata.Calibration!.Reference!;
        for (var i = 0; i < zipScores.Length; i++)
        {
            Assert.That(onnxFeatures[i], Is.EqualTo(features[i]).Within(1e-4f), $"features of image {i}");
            Assert.That(onnxDistances[i].Single(), Is.EqualTo(reference.Score(features[i])).Within(1e-5f), $"out-of-domain score of image {i}");
        }
    }
}

internal static class PathExtensions
{
    public static string EnsureDir(this string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        return path;
    }
}
