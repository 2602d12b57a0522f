using System.Globalization;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLTransfer.Export;
using MLTransfer.Inference;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Tests.Training;
using MLTransfer.Training;
using NUnit.Framework;

namespace MLTransfer.Tests.Inference;

/// <summary>
/// One model format: a zip saved from a TransferImageClassification pipeline has ML.NET's standard multiclass
/// output (a Model Builder-style <c>string PredictedLabel</c> binds) and MLTransfer's metadata, so
/// <see cref="ImageClassifier"/>, <c>predict</c>, <c>evaluate</c>, <c>report</c> and <c>export</c> take it, with
/// the scores a plain ML.NET app gets.
/// </summary>
[TestFixture, NonParallelizable]
public class EstimatorZipTests
{
    // The consumer's own types, as Model Builder generates them: nothing from MLTransfer.
    private sealed class ModelInput
    {
        public string ImagePath { get; set; } = "";
        public string Label { get; set; } = "";
    }

    private sealed class ModelOutput
    {
        public string PredictedLabel { get; set; } = "";
        public float[] Score { get; set; } = [];
    }

    private string _dir = "";
    private string _zip = "";
    private string _testFolder = "";
    private List<ImageClassificationEstimatorTests.ImageRow> _test = [];

    [OneTimeSetUp]
    public void Fit()
    {
        _dir = Directory.CreateTempSubdirectory("mlt-estzip-").FullName;
        var (train, test) = ImageClassificationEstimatorTests.Subset(14, 4);
        _test = test;
        var ml = new MLContext(1);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.MulticlassClassification.Trainers.TransferImageClassification(ImageClassificationEstimatorTests.BaseOptions(Path.Combine(_dir, "ws")) with { HiddenLayers = [32] }))
            .Append(ml.Transforms.Conversion.MapKeyToValue("PredictedLabel"));
        var data = ml.Data.LoadFromEnumerable(train);
        var model = pipeline.Fit(data);
        _zip = Path.Combine(_dir, "flowers-estimator.zip");
        ml.Model.Save(model, data.Schema, _zip);
        (model as IDisposable)?.Dispose();

        // The held-out images as a class-folder dataset, for evaluate and report.
        _testFolder = Path.Combine(_dir, "test");
        foreach (var row in test)
        {
            var target = Path.Combine(_testFolder, row.ImagePath);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(Path.Combine(ImageClassificationEstimatorTests.Flowers, row.ImagePath), target);
        }
    }

    [OneTimeTearDown]
    public void CleanUp()
    {
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }

    private Dictionary<string, float[]> PlainConsumerScores(out Dictionary<string, string> labels)
    {
        var ml = new MLContext();
        var loaded = ml.Model.Load(_zip, out _);
        using var engine = ml.Model.CreatePredictionEngine<ModelInput, ModelOutput>(loaded);
        var scores = new Dictionary<string, float[]>();
        labels = [];
        foreach (var row in _test)
        {
            var path = Path.Combine(ImageClassificationEstimatorTests.Flowers, row.ImagePath);
            var output = engine.Predict(new ModelInput { ImagePath = path, Label = "" });
            scores[Path.GetFileName(path)] = output.Score.ToArray();
            labels[Path.GetFileName(path)] = output.PredictedLabel;
        }
        (loaded as IDisposable)?.Dispose();
        return scores;
    }

    [Test]
    public void A_ModelBuilder_style_consumer_gets_class_names_and_named_scores()
    {
        var plain = PlainConsumerScores(out var labels);
        var classes = new[] { "daisy", "dandelion", "roses", "sunflowers", "tulips" };
        foreach (var (file, score) in plain)
        {
            Assert.That(score, Has.Length.EqualTo(5));
            Assert.That(labels[file], Is.EqualTo(classes[Array.IndexOf(score, score.Max())]), file);
        }
        var ml = new MLContext();
        var schema = ml.Model.Load(_zip, out _).GetOutputSchema(ml.Data.LoadFromEnumerable(Array.Empty<ModelInput>()).Schema);
        var names = default(VBuffer<ReadOnlyMemory<char>>);
        schema["Score"].GetSlotNames(ref names);
        Assert.That(names.DenseValues().Select(n => n.ToString()), Is.EqualTo(classes), "Score's slot names are the class names");
        Assert.That(ModelPackage.ReadMetadata(_zip).InputKind, Is.EqualTo(ModelInputKind.ImagePath));
    }

    [Test]
    public void ImageClassifier_predict_and_evaluate_give_the_plain_consumers_scores()
    {
        var plain = PlainConsumerScores(out var labels);
        using var classifier = ImageClassifier.Load(_zip);
        foreach (var row in _test)
        {
            var path = Path.Combine(ImageClassificationEstimatorTests.Flowers, row.ImagePath);
            var fromFile = classifier.Predict(path);
            var fromBytes = classifier.Predict(File.ReadAllBytes(path));
            var expected = plain[Path.GetFileName(path)];
            Assert.That(fromFile.Probabilities.Select(p => p.Probability), Is.EqualTo(expected).Within(1e-5f), path);
            Assert.That(fromBytes.Probabilities.Select(p => p.Probability), Is.EqualTo(expected).Within(1e-5f), path + " (bytes)");
            Assert.That(fromFile.Label, Is.EqualTo(labels[Path.GetFileName(path)]));
        }

        // The CLI: predict prints the same probabilities, evaluate the log-loss those probabilities give.
        var predict = CliRunner.Run(["predict", "--model", _zip, "--json", "--top", "5", .. _test.Select(r => Path.Combine(_testFolder, r.ImagePath))]);
        Assert.That(predict.ExitCode, Is.Zero, predict.ToString());
        using (var doc = JsonDocument.Parse(predict.StdOut))
            foreach (var p in doc.RootElement.GetProperty("predictions").EnumerateArray())
            {
                var file = Path.GetFileName(p.GetProperty("image").GetString()!);
                var byClass = p.GetProperty("topK").EnumerateArray().ToDictionary(t => t.GetProperty("label").GetString()!, t => t.GetProperty("probability").GetSingle());
                Assert.That(classifier.ClassNames.Select(c => byClass[c]), Is.EqualTo(plain[file]).Within(1e-5f), file);
            }

        var evaluate = CliRunner.Run(["evaluate", "--model", _zip, "--data", _testFolder, "--json"]);
        Assert.That(evaluate.ExitCode, Is.Zero, evaluate.ToString());
        using (var doc = JsonDocument.Parse(evaluate.StdOut))
        {
            var logLoss = doc.RootElement.GetProperty("metrics").GetProperty("logLoss").GetDouble();
            var expected = _test.Average(r => -Math.Log(Math.Max(plain[Path.GetFileName(r.ImagePath)][Array.IndexOf(classifier.ClassNames.ToArray(), r.Label)], 1e-15)));
            Assert.That(logLoss, Is.EqualTo(expected).Within(1e-5), "evaluate's log-loss from the plain consumer's probabilities");
        }
    }

    [Test]
    public async Task The_service_serves_the_estimator_zip_with_the_plain_consumers_scores()
    {
        var plain = PlainConsumerScores(out var labels);
        await using var host = await MLTransfer.Tests.Service.ServiceHost.StartAsync(_zip);
        foreach (var row in _test.Take(4))
        {
            var path = Path.Combine(ImageClassificationEstimatorTests.Flowers, row.ImagePath);
            using var content = new ByteArrayContent(File.ReadAllBytes(path));
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("image/jpeg");
            using var response = await host.Client.PostAsync("predict", content);
            var body = await response.Content.ReadAsStringAsync();
            Assert.That((int)response.StatusCode, Is.EqualTo(200), body);
            using var doc = JsonDocument.Parse(body);
            var probabilities = doc.RootElement.GetProperty("probabilities").EnumerateArray().Select(p => p.GetProperty("probability").GetSingle()).ToArray();
            Assert.That(probabilities, Is.EqualTo(plain[Path.GetFileName(path)]).Within(1e-5f), path);
            Assert.That(doc.RootElement.GetProperty("label").GetString(), Is.EqualTo(labels[Path.GetFileName(path)]));
        }
    }

    [Test]
    public void Report_and_export_take_the_estimator_zip()
    {
        var report = CliRunner.Run(["report", "--model", _zip, "--data", _testFolder, "--out", Path.Combine(_dir, "report")]);
        Assert.That(report.ExitCode, Is.Zero, report.ToString());
        Assert.That(File.ReadAllText(Path.Combine(_dir, "report", "report.html")), Does.Contain("TransferImageClassification"));
        var onnx = Path.Combine(_dir, "fused.onnx");
        var export = CliRunner.Run(["export", "--model", _zip, "--onnx", onnx]);
        Assert.That(export.ExitCode, Is.Zero, export.ToString());
        Assert.That(new FileInfo(onnx).Length, Is.GreaterThan(1_000_000));
    }

    [Test]
    public void A_bytes_model_predicts_as_its_plain_consumer()
    {
        var ml = new MLContext(1);
        var (train, test) = ImageClassificationEstimatorTests.Subset(10, 2);
        var pipeline = ml.Transforms.Conversion.MapValueToKey("Label")
            .Append(ml.Transforms.LoadRawImageBytes("Bytes", ImageClassificationEstimatorTests.Flowers, "ImagePath"))
            .Append(ml.MulticlassClassification.Trainers.TransferImageClassification(ImageClassificationEstimatorTests.BaseOptions(Path.Combine(_dir, "ws")) with
            {
                FeatureColumnName = "Bytes",
                ImageFolder = null,
            }));
        var data = ml.Data.LoadFromEnumerable(train);
        var zip = Path.Combine(_dir, "bytes.zip");
        using (var model = (IDisposable)pipeline.Fit(data))
            ml.Model.Save((ITransformer)model, data.Schema, zip);

        var fresh = new MLContext();
        fresh.ComponentCatalog.RegisterAssembly(typeof(ImageBytesDecoding).Assembly);
        var loaded = fresh.Model.Load(zip, out _);
        var plain = fresh.Data.CreateEnumerable<ScoreRow>(loaded.Transform(fresh.Data.LoadFromEnumerable(test)), reuseRowObject: false).Select(r => r.Score).ToList();
        using var classifier = ImageClassifier.Load(zip);
        for (var i = 0; i < test.Count; i++)
        {
            var path = Path.Combine(ImageClassificationEstimatorTests.Flowers, test[i].ImagePath);
            Assert.That(classifier.Predict(path).Probabilities.Select(p => p.Probability), Is.EqualTo(plain[i]).Within(1e-5f), path);
        }
        Assert.That(ModelPackage.ReadMetadata(zip).InputKind, Is.EqualTo(ModelInputKind.ImageBytes));
        Assert.That(ModelPackage.ReadMetadata(zip).FormatVersion.ToString(CultureInfo.InvariantCulture), Is.EqualTo("2"));
    }

    private sealed class ScoreRow
    {
        public float[] Score { get; set; } = [];
    }
}
