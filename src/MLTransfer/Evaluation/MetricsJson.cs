using System.Text.Json;
using System.Text.Json.Serialization;

namespace MLTransfer.Evaluation;

/// <summary>JSON reading and writing of metrics files (<see cref="ClassificationMetrics"/>, <see cref="MetricsSummary"/>).</summary>
internal static class MetricsJson
{
    /// <summary>
    /// Indented, camelCase options. Named floating-point literals are allowed because
    /// <see cref="ClassificationMetrics.LogLossReduction"/> is NaN when only one class is present, and plain
    /// System.Text.Json refuses to write NaN. The instance is read-only so that no caller can change it for everyone.
    /// </summary>
    public static JsonSerializerOptions Options { get; } = CreateOptions();

    /// <summary>Serialises <paramref name="value"/> to indented camelCase JSON.</summary>
    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);

    /// <summary>Deserialises JSON written by <see cref="Serialize{T}"/>.</summary>
    /// <exception cref="JsonException">The text is not valid JSON for <typeparamref name="T"/>, or is the literal <c>null</c>.</exception>
    public static T Deserialize<T>(string json) =>
        JsonSerializer.Deserialize<T>(json, Options) ?? throw new JsonException($"The JSON text holds null, not a {typeof(T).Name}.");

    /// <summary>Writes <paramref name="value"/> as JSON to <paramref name="path"/>, creating its folder if needed.</summary>
    public static void WriteFile<T>(string path, T value)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(folder))
            Directory.CreateDirectory(folder);
        File.WriteAllText(path, Serialize(value));
    }

    /// <summary>Reads a JSON file written by <see cref="WriteFile{T}"/>.</summary>
    public static T ReadFile<T>(string path) => Deserialize<T>(File.ReadAllText(path));

    private static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            WriteIndented = true,
            NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        };
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
