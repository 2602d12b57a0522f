using System.Globalization;
using System.Text.Json;

namespace MLTransfer.FeatureStore;

/// <summary>
/// What must be the same in every shard of a feature folder for their rows to be one table: the backbone
/// file, the preprocessing that made its input, the precision it ran at and the feature width.
/// </summary>
/// <param name="BackboneName">Catalog name (or file name) of the backbone.</param>
/// <param name="BackboneSha256">SHA-256 of the backbone file.</param>
/// <param name="Preprocessing">Canonical description of everything that changes the pixels (the feature cache's key text).</param>
/// <param name="Precision"><c>float32</c>, or <c>int8:</c> and the digest of the quantized graph.</param>
/// <param name="FeatureWidth">Floats per feature vector.</param>
public sealed record FeatureSignature(string BackboneName, string BackboneSha256, string Preprocessing, string Precision, int FeatureWidth)
{
    /// <summary>Where two signatures differ, as a phrase, or null when they agree.</summary>
    internal string? DifferenceFrom(FeatureSignature other) =>
        BackboneSha256 != other.BackboneSha256 ? $"backbone {BackboneName} (SHA-256 {BackboneSha256[..12]}…) vs {other.BackboneName} ({other.BackboneSha256[..12]}…)"
        : Preprocessing != other.Preprocessing ? $"preprocessing '{Preprocessing}' vs '{other.Preprocessing}'"
        : Precision != other.Precision ? $"precision {Precision} vs {other.Precision}"
        : FeatureWidth != other.FeatureWidth ? string.Create(CultureInfo.InvariantCulture, $"feature width {FeatureWidth} vs {other.FeatureWidth}")
        : null;
}

/// <summary>An image of a shard's partition that has no feature row, and why (kept so training can rebuild the split over every image).</summary>
/// <param name="Path">Path relative to the dataset root, '/'-separated.</param>
/// <param name="Label">Its class.</param>
/// <param name="Split">The split the dataset gave it, or null.</param>
/// <param name="Sha256">Content hash, or null when the file could not be read.</param>
/// <param name="Reason">Why it has no features.</param>
public sealed record ShardSkip(string Path, string Label, string? Split, string? Sha256, string Reason);

/// <summary>The facts a shard file carries in its Parquet key-value metadata.</summary>
/// <param name="Signature">What every shard of the folder shares.</param>
/// <param name="Shard">Which shard this is.</param>
/// <param name="Rows">Feature rows in the file.</param>
/// <param name="ListingSha256">Digest of the partition's image list (paths, labels, given splits), to tell whether the dataset changed since.</param>
/// <param name="DatasetRoot">The dataset folder the relative paths start from, as the extracting task saw it.</param>
/// <param name="ToolVersion">MLTransfer version that wrote the file.</param>
/// <param name="Skipped">Images of the partition without a feature row.</param>
internal sealed record ShardFacts(FeatureSignature Signature, ShardSpec Shard, long Rows, string ListingSha256, string DatasetRoot, string ToolVersion,
    IReadOnlyList<ShardSkip> Skipped)
{
    public const string FormatVersion = "1";
    private const string Prefix = "mltransfer.";
    private const int MaxValueChars = 64 << 10;
    private const int MaxSkippedChars = 32 << 20;

    public static string CurrentToolVersion { get; } = typeof(ShardFacts).Assembly.GetName().Version?.ToString() ?? "0";

    public Dictionary<string, string> ToMetadata() => new()
    {
        [Prefix + "format"] = FormatVersion,
        [Prefix + "tool_version"] = ToolVersion,
        [Prefix + "backbone.name"] = Signature.BackboneName,
        [Prefix + "backbone.sha256"] = Signature.BackboneSha256,
        [Prefix + "preprocessing"] = Signature.Preprocessing,
        [Prefix + "precision"] = Signature.Precision,
        [Prefix + "feature_width"] = Signature.FeatureWidth.ToString(CultureInfo.InvariantCulture),
        [Prefix + "shard"] = Shard.ToString(),
        [Prefix + "rows"] = Rows.ToString(CultureInfo.InvariantCulture),
        [Prefix + "listing_sha256"] = ListingSha256,
        [Prefix + "dataset_root"] = DatasetRoot,
        [Prefix + "skipped"] = JsonSerializer.Serialize(Skipped, ShardJson.Options),
    };

    /// <summary>Reads and checks the facts of an untrusted file's metadata.</summary>
    /// <exception cref="MLTransferException">A key is missing, too long or malformed.</exception>
    public static ShardFacts FromMetadata(IReadOnlyDictionary<string, string> metadata, string file)
    {
        string Get(string key, int max = MaxValueChars)
        {
            if (!metadata.TryGetValue(Prefix + key, out var v))
                throw Bad($"its Parquet metadata has no '{Prefix + key}'");
            if (v.Length > max)
                throw Bad($"'{Prefix + key}' is {v.Length} characters long");
            return v;
        }
        int Int(string key, int min, int max) =>
            int.TryParse(Get(key), NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max ? v : throw Bad($"'{Prefix + key}' is not a number from {min} to {max}");
        MLTransferException Bad(string why) => new($"Not a usable MLTransfer feature shard: {why}", file,
            "Extract this shard again (mltransfer extract), or remove the file if it does not belong in this folder");

        var format = Get("format");
        if (format != FormatVersion)
            throw Bad($"feature-shard format {format}, this version reads format {FormatVersion}");
        var sha = Get("backbone.sha256");
        if (sha.Length != 64 || !sha.All(Uri.IsHexDigit))
            throw Bad("the backbone SHA-256 is not 64 hex digits");
        var shard = ShardSpec.FromFileName(ShardFileName(Get("shard"))) ?? throw Bad($"'{Prefix}shard' is not I/N");
        if (!long.TryParse(Get("rows"), NumberStyles.None, CultureInfo.InvariantCulture, out var rows))
            throw Bad($"'{Prefix}rows' is not a count");
        List<ShardSkip> skipped;
        try
        {
            skipped = JsonSerializer.Deserialize<List<ShardSkip>>(Get("skipped", MaxSkippedChars), ShardJson.Options) ?? throw new JsonException("null");
        }
        catch (JsonException e)
        {
            throw Bad($"'{Prefix}skipped' is not a list of skipped images ({e.Message})");
        }
        if (skipped.Any(s => s is null || s.Path is null || s.Label is null || s.Reason is null))
            throw Bad($"'{Prefix}skipped' has an entry without path, label or reason");
        var signature = new FeatureSignature(Get("backbone.name"), sha.ToLowerInvariant(), Get("preprocessing"), Get("precision"), Int("feature_width", 1, 1 << 20));
        return new ShardFacts(signature, shard, rows, Get("listing_sha256"), Get("dataset_root"), Get("tool_version"), skipped);
    }

    private static string ShardFileName(string spec)
    {
        var parts = spec.Split('/');
        return parts.Length == 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var i)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var n)
            ? new ShardSpec(i, n).FileName
            : "";
    }
}

/// <summary>JSON settings of the feature folder's files.</summary>
internal static class ShardJson
{
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web) { WriteIndented = false };
    public static JsonSerializerOptions Indented { get; } = new(JsonSerializerDefaults.Web) { WriteIndented = true };
}
