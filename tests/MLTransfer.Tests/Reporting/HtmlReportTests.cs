using System.Globalization;
using System.Text.RegularExpressions;
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
        _report = HtmlReportWriter.Write(Path.Combine(_dir, "report"), ReportContentFactory.FromTraining(_model));
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
        foreach (var id in new[] { "dataset", "counts", "settings", "metrics", "per-class-test", "plot-confusion-test", "plot-per-class-validation", "curves", "errors" })
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

    [Test]
    public void Report_OpensInChromium_WithEveryImageDecoded()
    {
        HeadlessChromium.RequireInstalled();
        var url = new Uri(_report).AbsoluteUri;
        var dom = HeadlessChromium.Run(url, "--dump-dom");
        var images = Regex.Match(dom, "data-images=\"(\\d+)\"");
        Assert.That(images.Success, Is.True, "the page's load handler ran");
        Assert.That(int.Parse(images.Groups[1].Value), Is.GreaterThanOrEqualTo(5), "plots are present");
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
        foreach (var png in new[] { ReportPlots.ConfusionMatrix(test.ConfusionMatrix), ReportPlots.PerClassBars(test.PerClass),
                     ReportPlots.LearningCurves([new EpochRecord(1, 1.2, 0.5, 1.3, 0.45, 0.01), new EpochRecord(2, 0.8, 0.7, 0.9, 0.65, 0.01)]) })
        {
            using var bitmap = SKBitmap.Decode(png);
            Assert.That(bitmap.Width, Is.GreaterThan(200));
        }
    }
}
