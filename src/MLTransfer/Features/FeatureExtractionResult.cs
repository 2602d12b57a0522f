using MLTransfer.Data;

namespace MLTransfer.Features;

/// <summary>Features for every usable image of an extraction, and the images that were skipped.</summary>
/// <param name="Features">Feature vector per image path.</param>
/// <param name="ContentHashes">SHA-256 (lower-case hex) of each usable file's content.</param>
/// <param name="Skipped">Files that could not be used, with the reason.</param>
/// <param name="Extracted">Images run through the backbone.</param>
/// <param name="FromCache">Images whose features came from the cache.</param>
/// <param name="Elapsed">Wall time.</param>
public sealed record FeatureExtractionResult(
    IReadOnlyDictionary<string, float[]> Features,
    IReadOnlyDictionary<string, string> ContentHashes,
    IReadOnlyList<SkippedFile> Skipped,
    int Extracted,
    int FromCache,
    TimeSpan Elapsed)
{
    /// <summary>Backbone images per second (cached images excluded), or 0 when none ran.</summary>
    public double ExtractedPerSecond => Extracted > 0 && Elapsed.TotalSeconds > 0 ? Extracted / Elapsed.TotalSeconds : 0;
}
