using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;
using SkiaSharp;

namespace MLTransfer.Tests.Service;

/// <summary>The upload page in headless Chromium: choose a picture, see the label, take a screenshot.</summary>
[TestFixture, NonParallelizable]
public class UploadPageTests
{
    [Test, CancelAfter(120_000)]
    public async Task ChoosingAPicture_ShowsTheLabel_AndAScreenshotShowsThePage()
    {
        HeadlessChromium.RequireInstalled();
        var served = ServiceModels.CopyToFreshFolder(ServiceModels.First);
        await using var host = await ServiceHost.StartAsync(served);
        var (picture, _) = ServiceModels.SampleImages(12)[9];
        var expected = await ExpectedLabel(host.Client, picture);

        await using var browser = await ChromiumDevTools.OpenAsync(host.Address, TimeSpan.FromSeconds(60));
        await WaitFor(browser, "document.readyState === 'complete' && (document.getElementById('model')?.textContent ?? '').startsWith('model ')", "the page to load");

        // Choose the file in the real <input type=file>; the page classifies it on change.
        var document = await browser.SendAsync("DOM.getDocument");
        var input = await browser.SendAsync("DOM.querySelector", new { nodeId = document.GetProperty("root").GetProperty("nodeId").GetInt32(), selector = "#file" });
        await browser.SendAsync("DOM.setFileInputFiles", new { files = new[] { picture }, nodeId = input.GetProperty("nodeId").GetInt32() });
        await WaitFor(browser, "document.body.dataset.state === 'done' || document.body.dataset.state === 'error'", "the prediction to show");

        Assert.That((await browser.EvaluateAsync("document.body.dataset.state")).GetString(), Is.EqualTo("done"),
            (await browser.EvaluateAsync("document.getElementById('result').textContent")).GetString());
        var label = (await browser.EvaluateAsync("document.getElementById('label').textContent")).GetString();
        Assert.That(label, Does.StartWith(expected + " ("), "the page shows what the API answers");
        var bars = (await browser.EvaluateAsync("document.querySelectorAll('#result .bar').length")).GetInt32();
        Assert.That(bars, Is.EqualTo(3), "top-3 bars");
        // Wait for the preview image to be decoded so it is in the screenshot.
        await WaitFor(browser, "document.getElementById('preview').complete && document.getElementById('preview').naturalWidth > 0", "the preview");

        var shot = await browser.SendAsync("Page.captureScreenshot", new { format = "png" });
        var png = Convert.FromBase64String(shot.GetProperty("data").GetString()!);
        var file = Path.Combine(TestContext.CurrentContext.WorkDirectory, "upload-page.png");
        await File.WriteAllBytesAsync(file, png);
        TestContext.AddTestAttachment(file, "the upload page after classifying a picture");
        TestContext.Out.WriteLine($"screenshot: {file}; page label: {label}");

        using var bitmap = SKBitmap.Decode(png);
        Assert.That(bitmap, Is.Not.Null, "the screenshot is a PNG");
        Assert.That(bitmap.Width, Is.GreaterThanOrEqualTo(400));
        // The result bars are drawn in #3b7dd8: find that blue in the picture, not just a blank page.
        var blue = 0;
        for (var y = 0; y < bitmap.Height; y += 2)
            for (var x = 0; x < bitmap.Width; x += 2)
            {
                var c = bitmap.GetPixel(x, y);
                if (Math.Abs(c.Red - 0x3b) < 12 && Math.Abs(c.Green - 0x7d) < 12 && Math.Abs(c.Blue - 0xd8) < 12)
                    blue++;
            }
        Assert.That(blue, Is.GreaterThan(20), "probability bars visible in the screenshot");
    }

    private static async Task<string> ExpectedLabel(HttpClient client, string picture)
    {
        var content = new ByteArrayContent(File.ReadAllBytes(picture));
        content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
        using var response = await client.PostAsync("predict", content);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("label").GetString()!;
    }

    private static async Task WaitFor(ChromiumDevTools browser, string condition, string what)
    {
        var clock = Stopwatch.StartNew();
        while (!(await browser.EvaluateAsync(condition)).GetBoolean())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(30))
                Assert.Fail($"timed out waiting for {what}");
            await Task.Delay(100);
        }
    }
}
