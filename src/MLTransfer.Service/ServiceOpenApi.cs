using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace MLTransfer.Service;

/// <summary>
/// What the generated OpenAPI document (<c>/openapi/v1.json</c>) cannot infer: the request bodies the
/// predict endpoints read themselves (a multipart file field or raw image bytes), and the health endpoints,
/// which <c>MapHealthChecks</c> maps without a route handler for the API explorer to describe.
/// </summary>
internal static class ServiceOpenApi
{
    private static readonly (string Path, string Summary)[] HealthEndpoints =
    [
        ("/healthz/live", "Liveness: 200 while the process runs"),
        ("/healthz/ready", "Readiness: 200 while a model serves (status degraded after a failed reload), 503 once it is unloaded"),
        ("/healthz", "The same as /healthz/ready"),
    ];

    public static void Configure(OpenApiOptions options)
    {
        options.AddDocumentTransformer((document, _, _) =>
        {
            document.Info.Title = "MLTransfer prediction service";
            document.Info.Description = "Image classification with a model trained by MLTransfer. Errors are ProblemDetails (RFC 9457) with a traceId to quote when reporting.";
            return Task.CompletedTask;
        });
        options.AddOperationTransformer((operation, context, _) =>
        {
            var path = "/" + context.Description.RelativePath?.TrimStart('/');
            if (path is "/predict" or "/predict/batch")
                operation.RequestBody = ImageBody(batch: path == "/predict/batch");
            return Task.CompletedTask;
        });
        options.AddDocumentTransformer(async (document, context, cancellation) =>
        {
            var health = await context.GetOrCreateSchemaAsync(typeof(HealthDto), null, cancellation);
            document.AddComponent(nameof(HealthDto), health);
            document.Paths ??= [];
            foreach (var (path, summary) in HealthEndpoints)
            {
                var operation = new OpenApiOperation
                {
                    OperationId = "Health" + string.Concat(path.Split('/', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(p => char.ToUpperInvariant(p[0]) + p[1..])),
                    Summary = summary,
                    Tags = new HashSet<OpenApiTagReference> { new("Health", document) },
                    Responses = new OpenApiResponses
                    {
                        ["200"] = HealthResponse(document, "Healthy or Degraded"),
                    },
                };
                if (path != "/healthz/live")
                    operation.Responses["503"] = HealthResponse(document, "Unhealthy: the model has been unloaded (shutting down)");
                var item = new OpenApiPathItem();
                item.AddOperation(HttpMethod.Get, operation);
                document.Paths[path] = item;
            }
            document.Tags ??= new HashSet<OpenApiTag>();
            document.Tags.Add(new OpenApiTag { Name = "Health", Description = "ASP.NET Core health checks" });
        });
    }

    private static OpenApiResponse HealthResponse(OpenApiDocument document, string description) => new()
    {
        Description = description,
        Content = new Dictionary<string, OpenApiMediaType>
        {
            ["application/json"] = new() { Schema = new OpenApiSchemaReference(nameof(HealthDto), document) },
        },
    };

    private static OpenApiRequestBody ImageBody(bool batch)
    {
        var binary = new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary" };
        var form = new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = batch
                ? "One file field per image (any field names); at most --max-batch-files files"
                : "One file field holding the image (the first file is used)",
            Properties = new Dictionary<string, IOpenApiSchema> { [batch ? "images" : "image"] = batch ? new OpenApiSchema { Type = JsonSchemaType.Array, Items = binary } : binary },
        };
        var content = new Dictionary<string, OpenApiMediaType> { ["multipart/form-data"] = new() { Schema = form } };
        if (!batch)
        {
            // curl --data-binary labels raw bytes x-www-form-urlencoded; the service reads any non-multipart body as the image.
            foreach (var type in new[] { "application/octet-stream", "image/jpeg", "image/png", "image/gif", "image/bmp", "image/webp" })
                content[type] = new OpenApiMediaType { Schema = binary };
        }
        return new OpenApiRequestBody
        {
            Required = true,
            Description = "JPEG, PNG, GIF, BMP or WebP; at most --max-image-bytes each",
            Content = content,
        };
    }
}
