using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using MLTransfer.Images;
using MLTransfer.Inference;
using MLTransfer.Inference.Hosting;
using MLTransfer.Service;
using NUnit.Framework;

namespace MLTransfer.Tests.Service;

/// <summary>Every endpoint and every refusal of the service, over real HTTP on loopback.</summary>
[TestFixture, NonParallelizable]
public class ServiceEndpointTests
{
    private const long MaxImageBytes = 200_000;
    private ServiceHost _host = null!;
    private string _served = null!;
    private byte[] _jpeg = null!;
    private string _jpegLabel = null!;

    [OneTimeSetUp]
    public async Task Start()
    {
        _served = ServiceModels.CopyToFreshFolder(ServiceModels.First);
        _host = await ServiceHost.StartAsync(_served, "--max-image-bytes", MaxImageBytes.ToString(), "--max-batch-files", "4", "--reload-debounce-ms", "150");
        var (path, label) = ServiceModels.SampleImages(8)[0];
        (_jpeg, _jpegLabel) = (File.ReadAllBytes(path), label);
    }

    [OneTimeTearDown]
    public async Task Stop()
    {
        await _host.DisposeAsync();
        Directory.Delete(Path.GetDirectoryName(_served)!, true);
    }

    private HttpClient Client => _host.Client;

    private static async Task<JsonElement> Json(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    private static ByteArrayContent Raw(byte[] bytes, string type = "application/octet-stream")
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue(type);
        return content;
    }

    private static MultipartFormDataContent Form(params (string Name, byte[] Bytes)[] files)
    {
        var form = new MultipartFormDataContent();
        foreach (var (name, bytes) in files)
            form.Add(new ByteArrayContent(bytes), "image", name);
        return form;
    }

    /// <summary>A refusal is ProblemDetails JSON with the status and a reason, and no stack trace.</summary>
    private static async Task<JsonElement> AssertProblem(HttpResponseMessage response, HttpStatusCode status)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.That(response.StatusCode, Is.EqualTo(status), text);
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        var json = JsonDocument.Parse(text).RootElement;
        Assert.That(json.GetProperty("status").GetInt32(), Is.EqualTo((int)status));
        Assert.That(text, Does.Not.Contain("   at ").And.Not.Contain("Exception"), "no internals leak to the client");
        // The id a client quotes so the request can be found in the server's logs.
        Assert.That(json.GetProperty("traceId").GetString(), Is.Not.Empty);
        return json;
    }

    [Test]
    public async Task Predict_Multipart_ReturnsLabelProbabilitiesTopKAndModelVersion()
    {
        using var response = await Client.PostAsync("predict?topK=2", Form(("pic.jpg", _jpeg)));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var json = await Json(response);
        var classes = _host.Services.GetRequiredService<ReloadingImageClassifier>().Model.Metadata.ClassNames;
        Assert.That(classes, Does.Contain(json.GetProperty("label").GetString()));
        Assert.That(json.GetProperty("topK").GetArrayLength(), Is.EqualTo(2));
        Assert.That(json.GetProperty("topK")[0].GetProperty("label").GetString(), Is.EqualTo(json.GetProperty("label").GetString()));
        var probabilities = json.GetProperty("probabilities").EnumerateArray().Select(p => p.GetProperty("probability").GetSingle()).ToList();
        Assert.That(probabilities, Has.Count.EqualTo(classes.Count));
        Assert.That(probabilities.Sum(), Is.EqualTo(1f).Within(1e-3));
        Assert.That(json.GetProperty("fileName").GetString(), Is.EqualTo("pic.jpg"));
        var model = json.GetProperty("model");
        Assert.That(model.GetProperty("version").GetString(), Does.Match("^[0-9a-f]{12}-[0-9]{8}T[0-9]{6}Z$"));
        Assert.That(model.GetProperty("sha256").GetString(), Has.Length.EqualTo(64));
    }

    [Test]
    public async Task Predict_RawBody_AgreesWithTheLibrary()
    {
        using var response = await Client.PostAsync("predict", Raw(_jpeg, "image/jpeg"));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var json = await Json(response);
        using var direct = ImageClassifier.Load(_served);
        var expected = direct.Predict(_jpeg);
        Assert.That(json.GetProperty("label").GetString(), Is.EqualTo(expected.Label));
        Assert.That(json.GetProperty("probability").GetSingle(), Is.EqualTo(expected.Probability).Within(1e-5));
        Assert.That(json.GetProperty("topK").GetArrayLength(), Is.EqualTo(3), "default top-k");
    }

    [Test]
    public async Task Predict_IsMostlyRightOnTheSamples()
    {
        // The model is real: on its own training pictures it should name most classes right.
        var samples = ServiceModels.SampleImages(16);
        var right = 0;
        foreach (var (path, label) in samples)
        {
            using var response = await Client.PostAsync("predict", Raw(File.ReadAllBytes(path)));
            right += (await Json(response)).GetProperty("label").GetString() == label ? 1 : 0;
        }
        Assert.That(right, Is.GreaterThanOrEqualTo(12), $"{right}/16 right");
    }

    [Test]
    public async Task Predict_TooLarge_Is413()
    {
        var big = new byte[MaxImageBytes + ServiceOptions.MultipartOverhead + 1000];
        _jpeg.CopyTo(big, 0);
        using var raw = await Client.PostAsync("predict", Raw(big));
        var problem = await AssertProblem(raw, HttpStatusCode.RequestEntityTooLarge);
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("limit"));

        // Far over the limit: answered before the body is sent, to a client that waits for 100-continue.
        using var huge = new HttpRequestMessage(HttpMethod.Post, "predict") { Content = Raw(new byte[5 * MaxImageBytes]) };
        huge.Headers.ExpectContinue = true;
        using var hugeResponse = await Client.SendAsync(huge);
        await AssertProblem(hugeResponse, HttpStatusCode.RequestEntityTooLarge);

        // Under the request limit but over the image limit: refused by the per-image check.
        var justOver = new byte[MaxImageBytes + 10];
        _jpeg.CopyTo(justOver, 0);
        using var multipart = await Client.PostAsync("predict", Form(("big.jpg", justOver)));
        await AssertProblem(multipart, HttpStatusCode.RequestEntityTooLarge);
        using var rawJustOver = await Client.PostAsync("predict", Raw(justOver));
        await AssertProblem(rawJustOver, HttpStatusCode.RequestEntityTooLarge);
    }

    [Test]
    public async Task Predict_TooLargeChunked_Is413()
    {
        // No Content-Length: the limit is enforced while reading.
        var big = new byte[MaxImageBytes + ServiceOptions.MultipartOverhead + 50_000];
        _jpeg.CopyTo(big, 0);
        var content = new StreamContent(new MemoryStream(big));
        content.Headers.ContentType = new MediaTypeHeaderValue("image/jpeg");
        using var request = new HttpRequestMessage(HttpMethod.Post, "predict") { Content = content };
        request.Headers.TransferEncodingChunked = true;
        using var response = await Client.SendAsync(request);
        await AssertProblem(response, HttpStatusCode.RequestEntityTooLarge);
    }

    [TestCase("text", new byte[] { 0x68, 0x65, 0x6C, 0x6C, 0x6F, 0x20, 0x77, 0x6F, 0x72, 0x6C, 0x64 })]
    [TestCase("pdf", new byte[] { 0x25, 0x50, 0x44, 0x46, 0x2D, 0x31, 0x2E, 0x34 })]
    [TestCase("riff-wave", new byte[] { 0x52, 0x49, 0x46, 0x46, 0, 0, 0, 0, 0x57, 0x41, 0x56, 0x45 })]
    public async Task Predict_NotAnImage_Is415EvenWhenLabelledImage(string what, byte[] bytes)
    {
        using var raw = await Client.PostAsync("predict", Raw(bytes, "image/jpeg"));
        var problem = await AssertProblem(raw, HttpStatusCode.UnsupportedMediaType);
        Assert.That(problem.GetProperty("title").GetString(), Is.EqualTo("Not an image"), what);
        using var form = await Client.PostAsync("predict", Form(("x.jpg", bytes)));
        await AssertProblem(form, HttpStatusCode.UnsupportedMediaType);
    }

    [Test]
    public async Task Predict_TruncatedJpeg_Is400WithTheDecoderReason()
    {
        using var response = await Client.PostAsync("predict", Raw(_jpeg[..64]));
        var problem = await AssertProblem(response, HttpStatusCode.BadRequest);
        Assert.That(problem.GetProperty("title").GetString(), Is.EqualTo("The image could not be decoded"));
        Assert.That(problem.GetProperty("detail").GetString(), Is.Not.Empty);
    }

    [Test]
    public async Task Predict_EmptyBodyOrFormWithoutFile_Is400()
    {
        using var empty = await Client.PostAsync("predict", Raw([]));
        await AssertProblem(empty, HttpStatusCode.BadRequest);
        var form = new MultipartFormDataContent { { new StringContent("hello"), "note" } };
        using var noFile = await Client.PostAsync("predict", form);
        await AssertProblem(noFile, HttpStatusCode.BadRequest);
    }

    [Test]
    public async Task Batch_AnswersEachFile_WithOneModel_AndRefusesBadOnesIndividually()
    {
        var images = ServiceModels.SampleImages(8).Where((_, i) => i % 3 == 0).Take(2).Select(s => File.ReadAllBytes(s.Path)).ToArray();
        using var response = await Client.PostAsync("predict/batch", Form(("a.jpg", images[0]), ("b.jpg", images[1]), ("c.txt", "not an image"u8.ToArray()), ("d.jpg", _jpeg[..64])));
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK), await response.Content.ReadAsStringAsync());
        var json = await Json(response);
        var results = json.GetProperty("results").EnumerateArray().ToList();
        Assert.That(results.Select(r => r.GetProperty("fileName").GetString()), Is.EqualTo(new[] { "a.jpg", "b.jpg", "c.txt", "d.jpg" }));
        Assert.That(results.Select(r => r.GetProperty("status").GetInt32()), Is.EqualTo(new[] { 200, 200, 415, 400 }));
        var version = json.GetProperty("model").GetProperty("version").GetString();
        Assert.That(results[0].GetProperty("prediction").GetProperty("model").GetProperty("version").GetString(), Is.EqualTo(version));

        // The same file alone gives the same answer.
        using var single = await Client.PostAsync("predict", Raw(images[1]));
        Assert.That(results[1].GetProperty("prediction").GetProperty("label").GetString(), Is.EqualTo((await Json(single)).GetProperty("label").GetString()));
    }

    [Test]
    public async Task Batch_RefusesNoFilesTooManyFilesAndRawBodies()
    {
        using var none = await Client.PostAsync("predict/batch", new MultipartFormDataContent { { new StringContent("x"), "note" } });
        await AssertProblem(none, HttpStatusCode.BadRequest);
        using var tooMany = await Client.PostAsync("predict/batch", Form(Enumerable.Range(0, 5).Select(i => ($"{i}.jpg", _jpeg)).ToArray()));
        var problem = await AssertProblem(tooMany, HttpStatusCode.BadRequest);
        Assert.That(problem.GetProperty("detail").GetString(), Does.Contain("at most 4"));
        using var raw = await Client.PostAsync("predict/batch", Raw(_jpeg));
        await AssertProblem(raw, HttpStatusCode.UnsupportedMediaType);
    }

    [Test]
    public async Task UnknownRoutesAndWrongMethods_AreProblemDetails()
    {
        using var missing = await Client.GetAsync("nope");
        await AssertProblem(missing, HttpStatusCode.NotFound);
        using var missingPost = await Client.PostAsync("predict/nope", Raw(_jpeg));
        await AssertProblem(missingPost, HttpStatusCode.NotFound);
        using var wrongMethod = await Client.GetAsync("predict");
        await AssertProblem(wrongMethod, HttpStatusCode.MethodNotAllowed);
    }

    [Test]
    public async Task Healthz_And_Model_DescribeTheServedModel()
    {
        using var health = await Client.GetAsync("healthz");
        Assert.That(health.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var h = await Json(health);
        Assert.That(h.GetProperty("status").GetString(), Is.EqualTo("ok"));

        using var model = await Client.GetAsync("model");
        Assert.That(model.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var m = await Json(model);
        Assert.That(m.GetProperty("version").GetString(), Is.EqualTo(h.GetProperty("modelVersion").GetString()));
        var metadata = m.GetProperty("metadata");
        Assert.That(metadata.GetProperty("classNames").EnumerateArray().Select(c => c.GetString()), Is.EqualTo(new[] { "birds", "bugs", "fruit", "music" }));
        Assert.That(metadata.GetProperty("backbone").GetProperty("name").GetString(), Is.EqualTo("mobilenet-v1-0.75-192"));
        Assert.That(metadata.GetProperty("metrics").GetProperty("test").GetProperty("accuracy").GetDouble(), Is.InRange(0.0, 1.0));
        Assert.That(metadata.GetProperty("seed").GetInt32(), Is.EqualTo(1));
    }

    [Test]
    public async Task Root_ServesTheUploadPage_AndTheDemoPicture()
    {
        using var page = await Client.GetAsync("");
        Assert.That(page.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(page.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/html"));
        var html = await page.Content.ReadAsStringAsync();
        Assert.That(html, Does.Contain("<input id=\"file\" type=\"file\"").And.Contain("fetch('/predict'"));
        var sample = await Client.GetByteArrayAsync("sample.jpg");
        Assert.That(ImageFormat.Detect(sample), Is.EqualTo("jpeg"));
    }
}
