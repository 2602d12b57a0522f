using MLTransfer.Export;

namespace MLTransfer.Inference.Hosting;

/// <summary>Which model answered: identity of a loaded model zip.</summary>
/// <param name="Version">Short identifier: the first 12 hex digits of the zip's SHA-256 and the training time.</param>
/// <param name="Sha256">SHA-256 of the zip file, lowercase hex.</param>
/// <param name="Path">The file it was loaded from.</param>
/// <param name="LoadedUtc">When this process loaded it.</param>
/// <param name="Metadata">The model's own metadata (classes, backbone, metrics).</param>
public sealed record ServedModel(string Version, string Sha256, string Path, DateTimeOffset LoadedUtc, ModelMetadata Metadata)
{
    /// <summary>Builds the version string from the zip hash and the metadata's training time.</summary>
    public static string VersionOf(string sha256, ModelMetadata metadata) =>
        $"{sha256[..12]}-{metadata.CreatedUtc.UtcDateTime:yyyyMMdd'T'HHmmss'Z'}";
}

/// <summary>A prediction together with the model that made it.</summary>
/// <param name="Prediction">The answer.</param>
/// <param name="Model">The model that gave it (during a reload, old and new models answer side by side).</param>
public sealed record ServedPrediction(ImagePrediction Prediction, ServedModel Model);
