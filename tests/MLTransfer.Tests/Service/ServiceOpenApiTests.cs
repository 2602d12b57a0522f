using System.Net;
using System.Text.Json;
using Microsoft.OpenApi;
using NUnit.Framework;

namespace MLTransfer.Tests.Service;

/// <summary>
/// The OpenAPI document at <c>/openapi/v1.json</c> reads without errors with Microsoft.OpenApi's reader and
/// describes every endpoint with its request, responses and ProblemDetails; Scalar's page is served from the
/// app itself (no CDN).
/// </summary>
[TestFixture, NonParallelizable]
public class ServiceOpenApiTests
{
    private ServiceHost _host = null!;

    [OneTimeSetUp]
    public async Task Start() => _host = await ServiceHost.StartAsync(ServiceModels.CopyToFreshFolder(ServiceModels.First));

    [OneTimeTearDown]
    public async Task Stop() => await _host.DisposeAsync();

    [Test]
    public async Task OpenApiDocument_IsValid_AndDescribesEveryEndpoint()
    {
        using var response = await _host.Client.GetAsync("openapi/v1.json");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        var text = await response.Content.ReadAsStringAsync();
        using var json = JsonDocument.Parse(text);
        Assert.That(json.RootElement.GetProperty("openapi").GetString(), Does.StartWith("3."));

        await using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text));
        var (document, diagnostic) = await OpenApiDocument.LoadAsync(stream, "json");
        Assert.That(diagnostic?.Errors, Is.Empty, string.Join("\n", diagnostic?.Errors.Select(e => $"{e.Pointer}: {e.Message}") ?? []));
        Assert.That(document, Is.Not.Null);
        var paths = document!.Paths;
        Assert.That(paths.Keys, Is.SupersetOf(new[] { "/predict", "/predict/batch", "/model", "/healthz", "/healthz/ready", "/healthz/live" }));
        Assert.That(paths.Keys, Has.None.EqualTo("/"), "the upload page is not part of the API");

        static OpenApiOperation Operation(OpenApiDocument d, string path, HttpMethod method) => d.Paths[path].Operations![method];
        static string? SchemaId(IOpenApiResponse r, string type) =>
            r.Content![type].Schema is OpenApiSchemaReference reference ? reference.Reference.Id : null;

        var predict = Operation(document, "/predict", HttpMethod.Post);
        Assert.That(SchemaId(predict.Responses!["200"], "application/json"), Is.EqualTo("PredictionDto"));
        foreach (var status in new[] { "400", "413", "415", "503" })
            Assert.That(SchemaId(predict.Responses![status], "application/problem+json"), Is.EqualTo("ProblemDetails"), $"/predict {status}");
        Assert.That(predict.RequestBody!.Content!.Keys, Is.SupersetOf(new[] { "multipart/form-data", "application/octet-stream", "image/jpeg" }));
        Assert.That(predict.Parameters!.Select(p => p.Name), Does.Contain("topK"));

        var batch = Operation(document, "/predict/batch", HttpMethod.Post);
        Assert.That(SchemaId(batch.Responses!["200"], "application/json"), Is.EqualTo("BatchDto"));
        foreach (var status in new[] { "400", "413", "415" })
            Assert.That(SchemaId(batch.Responses![status], "application/problem+json"), Is.EqualTo("ProblemDetails"), $"/predict/batch {status}");
        Assert.That(batch.RequestBody!.Content!.Keys, Is.EqualTo(new[] { "multipart/form-data" }));

        Assert.That(SchemaId(Operation(document, "/model", HttpMethod.Get).Responses!["200"], "application/json"), Is.EqualTo("ModelInfoDto"));
        foreach (var health in new[] { "/healthz", "/healthz/ready", "/healthz/live" })
            Assert.That(SchemaId(Operation(document, health, HttpMethod.Get).Responses!["200"], "application/json"), Is.EqualTo("HealthDto"), health);
        Assert.That(Operation(document, "/healthz/ready", HttpMethod.Get).Responses!.Keys, Does.Contain("503"));

        var schemas = document.Components!.Schemas!;
        Assert.That(schemas.Keys, Is.SupersetOf(new[] { "PredictionDto", "BatchDto", "BatchItemDto", "ModelInfoDto", "HealthDto", "ProblemDetails", "ClassProbability" }));
        Assert.That(schemas["PredictionDto"].Properties!.Keys, Is.SupersetOf(new[] { "label", "probability", "topK", "probabilities", "model" }));
        Assert.That(schemas["HealthDto"].Properties!.Keys, Is.SupersetOf(new[] { "status", "health", "modelVersion" }));
    }

    [Test]
    public async Task ScalarPage_IsServed_WithItsScriptFromTheApp()
    {
        using var page = await _host.Client.GetAsync("scalar");
        var html = await page.Content.ReadAsStringAsync();
        Assert.That(page.StatusCode, Is.EqualTo(HttpStatusCode.OK), html);
        Assert.That(page.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/html"));
        Assert.That(html, Does.Contain("openapi/v1.json").And.Not.Contain("cdn.jsdelivr.net"), "works offline");
        var script = System.Text.RegularExpressions.Regex.Match(html, @"<script[^>]+src=""([^""]+\.js)""").Groups[1].Value;
        Assert.That(script, Is.Not.Empty, html);
        using var js = await _host.Client.GetAsync(new Uri(new Uri(_host.Address, "scalar/"), script));
        Assert.That(js.StatusCode, Is.EqualTo(HttpStatusCode.OK), script);
        Assert.That((await js.Content.ReadAsByteArrayAsync()).Length, Is.GreaterThan(100_000), "the bundled Scalar script");
    }
}
