using MLTransfer.Data;

namespace MLTransfer.Features;

/// <summary>Features for every usable image of an extraction, and the images that were skipped.</summary>
/// <param name="Sources">The images, in the order of <paramref name="Features"/>.</param>
/// <param name="Features">Feature vector per source; null where the image was skipped.</param>
/// <param name="Skipped">Images that could not be used, with the reason, in source order.</param>
/// <param name="Extracted">Images run through the backbone.</param>
/// <param name="FromCache">Images whose features came from the cache.</param>
/// <param name="Elapsed">Wall time.</param>
internal sealed record FeatureExtractionResult(
    IReadOnlyList<ImageSource> Sources,
    float[]?[] Features,
    IReadOnlyList<SkippedFile> Skipped,
    int Extracted,
    int FromCache,
    TimeSpan Elapsed)
{
    private IReadOnlyDictionary<string, float[]>? _byName;

    /// <summary>Backbone images per second (cached images excluded), or 0 when none ran.</summary>
    public double ExtractedPerSecond => Extracted > 0 && Elapsed.TotalSeconds > 0 ? Extracted / Elapsed.TotalSeconds : 0;

    /// <summary>Feature vector per source name (a file's path), for the usable images.</summary>
    public IReadOnlyDictionary<string, float[]> ByName => _byName ??= Sources
        .Select((s, i) => (s.Name, Features: Features[i]))
        .Where(x => x.Features is not null)
        .GroupBy(x => x.Name, StringComparer.Ordinal)
        .ToDictionary(g => g.Key, g => g.First().Features!, StringComparer.Ordinal);
}
