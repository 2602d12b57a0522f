using System.Net;
using System.Text;
using System.Text.Json;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;

namespace MLTransfer.Tests.Service;

/// <summary>
/// Forms the service cannot use are the client's mistake (400, or 413 for a body over the limit), said in
/// ProblemDetails: never a 500. The server runs with the default limits (16 files a batch, 8 MiB an image).
/// </summary>
[TestFixture, NonParallelizable]
public class ServiceFormTests
{
    private ServiceHost _host = null!;
    private string _served = null!;
    private byte[] _jpeg = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _served = ServiceModels.CopyToFreshFolder(ServiceModels.First);
        _host = await ServiceHost.StartAsync(_served);
        _jpeg = File.ReadAllBytes(ServiceModels.SampleImages(1)[0].Path);
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _host.DisposeAsync();
        Directory.Delete(Path.GetDirectoryName(_served)!, true);
    }

    private static async Task<JsonElement> AssertProblem(HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(status), text);
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"), text);
        Assert.That(text, Does.Not.Contain("   at ").And.Not.Contain("Exception"), "no internals leak to the client");
        var json = JsonDocument.Parse(text).RootElement;
        TestContext.Out.WriteLine($"{(int)status} {json.GetProperty("title").GetString()}: {json.GetProperty("detail").GetString()}");
        Assert.That(json.GetProperty("title").GetString(), Is.Not.Empty);
        Assert.That(json.GetProperty("detail").GetString(), Is.Not.Empty);
        return json;
    }

    /// <summary>A body sent exactly as given, with the Content-Type header exactly as given (no boundary added).</summary>
    private static ByteArrayContent Body(byte[] bytes, string contentType)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        return content;
    }

    /// <summary>A well-formed multipart body with one file, as bytes.</summary>
    private byte[] ValidMultipart(string boundary)
    {
        var head = Encoding.ASCII.GetBytes($"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n");
        var tail = Encoding.ASCII.GetBytes($"\r\n--{boundary}--\r\n");
        return [.. head, .. _jpeg, .. tail];
    }

    public static IEnumerable<string> Endpoints => ["predict", "predict/batch"];

    [TestCaseSource(nameof(Endpoints))]
    public async Task MultipartWithoutBoundary_Is400(string endpoint)
    {
        using var response = await _host.Client.PostAsync(endpoint, Body(ValidMultipart("xyz"), "multipart/form-data"));
        var problem = await AssertProblem(response, HttpStatusCode.BadRequest);
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("boundary"));
    }

    [TestCaseSource(nameof(Endpoints))]
    public async Task MultipartGarbage_Is400(string endpoint)
    {
        var garbage = new byte[5000];
        new Random(17).NextBytes(garbage);
        using var random = await _host.Client.PostAsync(endpoint, Body(garbage, "multipart/form-data; boundary=xyz"));
        await AssertProblem(random, HttpStatusCode.BadRequest);

        // A boundary line followed by nonsense instead of part headers.
        var text = Encoding.ASCII.GetBytes("--xyz\r\nthis is not a header\r\n" + new string('z', 200) + "\r\n--xyz--\r\n");
        using var broken = await _host.Client.PostAsync(endpoint, Body(text, "multipart/form-data; boundary=xyz"));
        await AssertProblem(broken, HttpStatusCode.BadRequest);
    }

    [TestCaseSource(nameof(Endpoints))]
    public async Task MultipartTruncated_Is400(string endpoint)
    {
        // Cut in the middle of the file: no closing boundary ever comes.
        var whole = ValidMultipart("xyz");
        using var response = await _host.Client.PostAsync(endpoint, Body(whole[..(whole.Length / 2)], "multipart/form-data; boundary=xyz"));
        var problem = await AssertProblem(response, HttpStatusCode.BadRequest);
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("ends").Or.Contain("truncated").Or.Contain("incomplete"));
    }

    [TestCase(17)]
    [TestCase(33)]
    [TestCase(100)]
    public async Task Batch_OverTheFileLimit_Is400TooManyFiles_WithTheLimitAndTheCount(int count)
    {
        var small = GeneratedPng.Solid(4, 4, 10, 20, 30);
        var form = new MultipartFormDataContent();
        for (var i = 0; i < count; i++)
            form.Add(new ByteArrayContent(small), "image", $"{i}.png");
        using var response = await _host.Client.PostAsync("predict/batch", form);
        var problem = await AssertProblem(response, HttpStatusCode.BadRequest);
        Assert.That(problem.GetProperty("title").GetString(), Is.EqualTo("Too many files"));
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("at most 16").And.Contain($"has {count}"));
    }

    [Test]
    public async Task Batch_UpToTheFileLimit_AnswersEveryFile_EvenWithOtherFields()
    {
        var form = new MultipartFormDataContent();
        for (var i = 0; i < 16; i++)
            form.Add(new ByteArrayContent(_jpeg), "image", $"{i}.jpg");
        for (var i = 0; i < 20; i++)
            form.Add(new StringContent("note"), $"note{i}");
        using var response = await _host.Client.PostAsync("predict/batch", form);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var results = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("results");
        Assert.That(results.GetArrayLength(), Is.EqualTo(16));
        Assert.That(results.EnumerateArray().Select(r => r.GetProperty("status").GetInt32()), Is.All.EqualTo(200));
    }

    [Test]
    public async Task Batch_OverTheBodyLimit_Is413()
    {
        // 17 files of 8 MiB are over the 16 × 8 MiB body limit whatever their count: that is "too large".
        var big = new byte[8 * 1024 * 1024];
        _jpeg.CopyTo(big, 0);
        var form = new MultipartFormDataContent();
        for (var i = 0; i < 17; i++)
            form.Add(new ByteArrayContent(big), "image", $"{i}.jpg");
        using var request = new HttpRequestMessage(HttpMethod.Post, "predict/batch") { Content = form };
        request.Headers.ExpectContinue = true;
        using var response = await _host.Client.SendAsync(request);
        var problem = await AssertProblem(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("limit"));
    }

    [Test]
    public async Task Predict_FormWithManyFields_UsesItsFile()
    {
        // Forty fields before the file: the old form limit (files + 16) turned this into "request too large".
        var form = new MultipartFormDataContent();
        for (var i = 0; i < 40; i++)
            form.Add(new StringContent("x"), $"f{i}");
        form.Add(new ByteArrayContent(_jpeg), "image", "a.jpg");
        using var response = await _host.Client.PostAsync("predict", form);
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
    }
}
