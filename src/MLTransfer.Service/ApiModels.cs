using MLTransfer.Export;
using MLTransfer.Inference;
using MLTransfer.Inference.Hosting;

namespace MLTransfer.Service;

/// <summary>Which model answered, as clients see it.</summary>
public sealed record ModelVersionDto(string Version, string Sha256, DateTimeOffset CreatedUtc)
{
    public static ModelVersionDto From(ServedModel m) => new(m.Version, m.Sha256, m.Metadata.CreatedUtc);
}

/// <summary>Answer of <c>POST /predict</c>.</summary>
public sealed record PredictionDto(
    string Label,
    float Probability,
    IReadOnlyList<ClassProbability> TopK,
    IReadOnlyList<ClassProbability> Probabilities,
    ModelVersionDto Model,
    string? FileName,
    double ElapsedMs);

/// <summary>One file of a batch: a prediction, or the status and reason it was refused.</summary>
public sealed record BatchItemDto(string? FileName, int Status, PredictionDto? Prediction, string? Error);

/// <summary>Answer of <c>POST /predict/batch</c>; every file is answered by the same model.</summary>
public sealed record BatchDto(ModelVersionDto Model, IReadOnlyList<BatchItemDto> Results);

/// <summary>Answer of <c>GET /model</c>.</summary>
public sealed record ModelInfoDto(
    string Version,
    string Sha256,
    string Path,
    DateTimeOffset LoadedUtc,
    int Reloads,
    string? LastReloadError,
    ModelMetadata Metadata);

/// <summary>Answer of <c>GET /healthz</c>.</summary>
public sealed record HealthDto(string Status, string ModelVersion);
