using System.Globalization;
using System.Text.RegularExpressions;
using MLTransfer.Inference;
using MLTransfer.Reporting;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Training;
using NUnit.Framework;
using SkiaSharp;

namespace MLTransfer.Tests.Reporting;

[TestFixture, NonParallelizable]
public class HtmlReportTests
{
    private string _dir = "";
    private TrainedModel _model = null!;
    private string _report = "";

    [OneTimeSetUp]
    public void TrainAndWrite()
    {
        _dir = Directory.CreateTempSubdirectory("mlt-report-").FullName;
        _model = TransferLearner.Train(Path.Combine(TestPaths.RepoRoot, "data-samples"), new TransferLearningOptions
        {
            Backbone = new() { Name = "mobilenet-v1-0.75-192", Dirs = [Path.Combine(TestPaths.SharedDir, "models")], AllowDownload = false },
            Cache = new() { WorkspacePath = Path.Combine(_dir, "ws") },
        });
        var zip = Path.Combine(_dir, "samples.zip");
        _model.Save(zip);
        using var classifier = ImageClassifier.Load(zip);
        _report = HtmlReportWriter.Write(Path.Combine(_dir, "report"), ReportContentFactory.FromTraining(_model, classifier));
    }

    [OneTimeTearDown]
    public void Cleanup()
    {
        _model.Dispose();
        Directory.Delete(_dir, true);
    }

    [Test]
    public void Report_HasEverySection_AndItsNumbersMatchTheMetrics()
    {
        var html = File.ReadAllText(_report);
        foreach (var id in new[] { "dataset", "counts", "settings", "metrics", "per-class-test", "plot-confusion-test", "plot-per-class-validation", "curves", "errors",
                     "samples", "plot-confusion-normalised-test", "confused-pairs-test", "calibration", "plot-reliability", "plot-coverage", "coverage-table", "top-losses",
                     "occlusion", "plot-occlusion-0" })
            Assert.That(html, Does.Contain($"id=\"{id}\""), id);
        var test = _model.Report.Test!;
        var row = Regex.Match(html, "<tr data-set=\"Test\"><td>Test</td><td>(\\d+)</td><td class=\"accuracy\">([0-9.]+)</td>");
        Assert.That(row.Success, Is.True, "test row in the metrics table");
        Assert.That(int.Parse(row.Groups[1].Value), Is.EqualTo(test.Count));
        Assert.That(row.Groups[2].Value, Is.EqualTo(test.Accuracy.ToString("F4", CultureInfo.InvariantCulture)));
        var wrong = _model.Report.HeldOut.Count(o => o.IsError);
        Assert.That(html, Does.Contain($"({wrong} of {_model.Report.HeldOut.Count} wrong)"));
        Assert.That(Regex.Matches(html, "class=\"card\"").Count, Is.EqualTo(Math.Min(wrong, HtmlReportWriter.GallerySize)));
        Assert.That(html, Does.Not.Contain("src=\"http"), "self-contained: nothing loaded from outside");
    }

    /// <summary>The page shows the figures the metrics JSON (written beside every model) holds, to the digits shown.</summary>
    [Test]
    public void Report_NumbersMatchTheMetricsJson()
    {
        var html = File.ReadAllText(_report);
        using var json = System.Text.Json.JsonDocument.Parse(MLTransfer.Evaluation.MetricsJson.Serialize(_model.Report));
        var root = json.RootElement;
        string F(System.Text.Json.JsonElement e) => e.GetDouble().ToString("F4", CultureInfo.InvariantCulture);
        string Cell(string id) => Regex.Match(html, $"id=\"{id}\">([^<]+)<").Groups[1].Value;
        string Row(string set) => Regex.Match(html, $"<tr data-set=\"{set}\"><td>{set}</td><td>\\d+</td><td class=\"accuracy\">([0-9.]+)</td>").Groups[1].Value;
        Assert.That(Row("Train"), Is.EqualTo(F(root.GetProperty("train").GetProperty("accuracy"))), "training accuracy");
        Assert.That(Row("Test"), Is.EqualTo(F(root.GetProperty("test").GetProperty("accuracy"))));
        var confidence = root.GetProperty("confidence");
        Assert.That(Cell("temperature"), Is.EqualTo(F(confidence.GetProperty("temperature"))));
        Assert.That(Cell("ece-before"), Is.EqualTo(F(confidence.GetProperty("before").GetProperty("expectedCalibrationError"))));
        Assert.That(Cell("ece-after"), Is.EqualTo(F(confidence.GetProperty("after").GetProperty("expectedCalibrationError"))));
        Assert.That(Cell("ood-threshold"), Is.EqualTo(F(confidence.GetProperty("outOfDomainThreshold"))));
        Assert.That(Cell("in-domain-coverage"), Is.EqualTo(F(confidence.GetProperty("inDomainCoverage"))));

        // Top losses: highest −ln p(true) first, each card showing p(true) and the loss of that image.
        var losses = Regex.Matches(html, "p\\(true\\) ([0-9.]+), loss ([0-9.]+)").Select(m => double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)).ToList();
        var heldOut = _model.Report.HeldOut;
        var expected = heldOut.Select(o => o.Loss).OrderDescending().Take(HtmlReportWriter.TopLosses).Select(l => Math.Round(l, 3)).ToList();
        Assert.That(losses.Take(expected.Count), Is.EqualTo(expected).Within(1e-9));
        // Right answers among the top losses are marked as such, and the next least sure right answers follow them.
        var rightInTop = heldOut.OrderByDescending(o => o.Loss).ThenBy(o => o.Path, StringComparer.Ordinal).Take(HtmlReportWriter.TopLosses).Count(o => !o.IsError);
        var right = heldOut.Count(o => !o.IsError);
        Assert.That(Regex.Matches(html, "right, but unsure").Count, Is.EqualTo(rightInTop + Math.Min(HtmlReportWriter.UnsureRight, right - rightInTop)));

        // The most confused pair is the largest off-diagonal cell of the test confusion matrix.
        var m = _model.Report.Test!.ConfusionMatrix;
        var largest = Enumerable.Range(0, m.ClassNames.Count).SelectMany(t => Enumerable.Range(0, m.ClassNames.Count).Where(p => p != t).Select(p => m[t, p])).Max();
        var firstPair = Regex.Match(html, "id=\"confused-pairs-test\"><tr>.*?</tr><tr><td>[^<]+</td><td[^>]*>[^<]+</td><td>(\\d+)</td>");
        if (largest > 0)
            Assert.That(int.Parse(firstPair.Groups[1].Value), Is.EqualTo(largest));
        // A strip per class, each with its sample images.
        Assert.That(Regex.Matches(html, "class=\"strip\" data-class=").Count, Is.EqualTo(_model.Report.ClassNames.Count));
    }

    [Test]
    public void OcclusionMaps_HighlightWhereTheTrueClassLosesProbability()
    {
        var d = _model.Metadata.Backbone;
        var zip = Path.Combine(_dir, "samples.zip");
        using var classifier = ImageClassifier.Load(zip);
        var error = _model.Report.HeldOut.Where(o => o.IsError).OrderByDescending(o => o.Confidence).First();
        var image = MLTransfer.Images.ImageDecoder.DecodeFile(error.Path, d.InputWidth, d.InputHeight, d.ResizeMode);
        var trueClass = _model.Report.ClassNames.ToList().IndexOf(error.TrueLabel);
        var calls = 0;
        var map = OcclusionMap.Compute(error.Path, image, trueClass, error.TrueLabel, error.PredictedLabel, copies =>
        {
            calls++;
            return copies.Select(classifier.Score).ToArray();
        });
        Assert.That(calls, Is.EqualTo(1), "every occluded copy goes to the model in one call");
        Assert.That(map.Drops, Has.Length.EqualTo(OcclusionMap.DefaultGrid * OcclusionMap.DefaultGrid));
        Assert.That(map.TrueProbability, Is.EqualTo(error.TrueProbability).Within(1e-4f), "the unoccluded image scores as in the report");
        // Each drop is the true class's probability lost when that square is grey: recompute one cell by hand.
        var pixels = (byte[])image.Bgra.Clone();
        var (w, h) = (image.Width, image.Height);
        var (pw, ph) = ((int)(w * OcclusionMap.PatchFraction), (int)(h * OcclusionMap.PatchFraction));
        var (x0, y0) = ((int)Math.Round(3.5 * w / 7 - pw / 2.0), (int)Math.Round(3.5 * h / 7 - ph / 2.0));
        for (var y = y0; y < y0 + ph; y++)
            for (var x = x0; x < x0 + pw; x++)
                (pixels[4 * (y * w + x)], pixels[4 * (y * w + x) + 1], pixels[4 * (y * w + x) + 2]) = (128, 128, 128);
        var centre = classifier.Score(image with { Bgra = pixels })[trueClass];
        Assert.That(map.Drops[3 * 7 + 3], Is.EqualTo(map.TrueProbability - centre).Within(1e-5f));
        using var bitmap = SKBitmap.Decode(map.Png);
        Assert.That((bitmap.Width, bitmap.Height), Is.EqualTo((w, h)));
    }

    [Test]
    public void Report_OpensInChromium_WithEveryImageDecoded()
    {
        HeadlessChromium.RequireInstalled();
        var url = new Uri(_report).AbsoluteUri;
        var dom = HeadlessChromium.Run(url, "--dump-dom");
        var images = Regex.Match(dom, "data-images=\"(\\d+)\"");
        Assert.That(images.Success, Is.True, "the page's load handler ran");
        // Plots (per-class bars, two confusion matrices per set, reliability, coverage), thumbnails and occlusion maps.
        Assert.That(int.Parse(images.Groups[1].Value), Is.GreaterThanOrEqualTo(12), "plots are present");
        Assert.That(dom, Does.Contain("data-broken=\"0\""), "every embedded image decodes");

        var shot = Path.Combine(_dir, "report.png");
        HeadlessChromium.Run(url, $"--screenshot={shot}", "--window-size=1200,2400");
        using var bitmap = SKBitmap.Decode(shot);
        Assert.That(bitmap, Is.Not.Null);
        Assert.That((bitmap.Width, bitmap.Height), Is.EqualTo((1200, 2400)));
        // A rendered report is mostly white page with dark text and coloured plots, not a blank screen.
        var colours = new HashSet<SKColor>();
        for (var y = 0; y < bitmap.Height; y += 7)
            for (var x = 0; x < bitmap.Width; x += 7)
                colours.Add(bitmap.GetPixel(x, y));
        Assert.That(colours.Count, Is.GreaterThan(50));
        TestContext.Out.WriteLine($"screenshot: {shot}");
    }

    [Test]
    public void Plots_AreRealPngs()
    {
        var test = _model.Report.Test!;
        var confidence = _model.Report.Confidence!;
        foreach (var png in new[] { ReportPlots.ConfusionMatrix(test.ConfusionMatrix), ReportPlots.ConfusionMatrix(test.ConfusionMatrix, normalised: true), ReportPlots.PerClassBars(test.PerClass),
                     ReportPlots.LearningCurves([new EpochRecord(1, 1.2, 0.5, 1.3, 0.45, 0.01), new EpochRecord(2, 0.8, 0.7, 0.9, 0.65, 0.01)]),
                     ReportPlots.LearningCurves([new EpochRecord(0, 1.2, 0.5, 1.3, 0.45, 0.01), new EpochRecord(1, 0.8, 0.7, 0.9, 0.65, 0.01)], "early-stopping set"),
                     ReportPlots.Reliability(confidence.Before, confidence.After), ReportPlots.Coverage(confidence.CoverageCurve, confidence.GatedCoverageCurve) })
        {
            using var bitmap = SKBitmap.Decode(png);
            Assert.That(bitmap.Width, Is.GreaterThan(200));
        }
    }
}
