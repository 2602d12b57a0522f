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
/// <param name="Label">The class, or null when the model abstains (see <paramref name="Abstention"/>).</param>
/// <param name="Probability">Calibrated probability of <paramref name="MostProbable"/>.</param>
/// <param name="IsConfident">Whether the model stands by the answer; false when it abstains.</param>
/// <param name="Abstention"><c>None</c>, <c>LowProbability</c> (below <paramref name="MinConfidence"/>) or <c>OutOfDomain</c> (unlike every class the model knows).</param>
/// <param name="MostProbable">The most probable class, given even when the model abstains.</param>
/// <param name="MinConfidence">The probability threshold applied (the request's <c>?minConfidence=</c> or the service's default).</param>
/// <param name="OutOfDomainScore">Distance of the image's features from the training images, or null for a model saved without calibration.</param>
/// <param name="OutOfDomainThreshold">Scores above it are out of domain; null when the model has no threshold.</param>
/// <param name="TopK">The most probable classes.</param>
/// <param name="Probabilities">Every class's probability, in class order.</param>
/// <param name="Model">The model that answered.</param>
/// <param name="FileName">The uploaded file's name, when it had one.</param>
/// <param name="ElapsedMs">Time to decode and classify the image.</param>
public sealed record PredictionDto(
    string? Label,
    float Probability,
    bool IsConfident,
    AbstentionReason Abstention,
    string MostProbable,
    float MinConfidence,
    float? OutOfDomainScore,
    float? OutOfDomainThreshold,
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
    int FailedReloads,
    string? LastReloadError,
    ModelMetadata Metadata)
{
    /// <summary>
    /// Describes the served model. Unless <paramref name="exposePaths"/>, server paths are left out: the model
    /// is named by its file name, the training data folder and the backbone's origin (which can name local
    /// folders) are omitted, and the model's folder is cut from the reload error.
    /// </summary>
    public static ModelInfoDto From(ReloadingImageClassifier classifier, bool exposePaths)
    {
        var m = classifier.Model;
        if (exposePaths)
            return new(m.Version, m.Sha256, m.Path, m.LoadedUtc, classifier.Reloads, classifier.FailedReloads, classifier.LastReloadError, m.Metadata);
        var backbone = m.Metadata.Backbone;
        var metadata = m.Metadata with
        {
            DataSource = null,
            BackboneReason = null,
            Backbone = backbone.Source is { } source && System.IO.Path.IsPathRooted(source) ? backbone with { Source = System.IO.Path.GetFileName(source) } : backbone,
        };
        return new(m.Version, m.Sha256, System.IO.Path.GetFileName(m.Path), m.LoadedUtc, classifier.Reloads, classifier.FailedReloads,
            HidePaths(classifier.LastReloadError, m.Path), metadata);
    }

    /// <summary>Replaces the model's folder in an error message by nothing, leaving its file name.</summary>
    public static string? HidePaths(string? text, string modelPath)
    {
        if (text is null)
            return null;
        var folder = System.IO.Path.GetDirectoryName(modelPath);
        return string.IsNullOrEmpty(folder) ? text : text.Replace(folder + System.IO.Path.DirectorySeparatorChar, "").Replace(folder, ".");
    }
}

/// <summary>Answer of <c>GET /healthz</c>, <c>/healthz/ready</c> and <c>/healthz/live</c>.</summary>
/// <param name="Status"><c>ok</c>, <c>degraded</c> or <c>unhealthy</c>.</param>
/// <param name="Health">The same as ASP.NET names it: Healthy, Degraded, Unhealthy.</param>
/// <param name="ModelVersion">The model answering requests (not in the liveness answer).</param>
/// <param name="Description">Why the status is what it is.</param>
/// <param name="LastReloadError">While degraded: why the model file on disk could not be used.</param>
public sealed record HealthDto(string Status, string Health, string? ModelVersion, string? Description, string? LastReloadError);
