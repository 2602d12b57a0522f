using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML;

namespace MLTransfer.Export;

/// <summary>
/// Reads and writes model zips: the standard ML.NET zip from <c>mlContext.Model.Save</c> (which embeds
/// the backbone ONNX bytes) plus one extra entry holding <see cref="ModelMetadata"/>. ML.NET ignores the
/// extra entry, so the zip stays loadable by plain <c>mlContext.Model.Load</c>.
/// </summary>
public static class ModelPackage
{
    /// <summary>The metadata layout this version writes and the newest it reads.</summary>
    public const int CurrentFormatVersion = 1;
    /// <summary>Zip entry holding the metadata.</summary>
    public const string MetadataEntry = "MLTransfer/metadata.json";

    /// <summary>JSON settings for metadata and metrics files.</summary>
    public static JsonSerializerOptions JsonOptions { get; } = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>
    /// Saves atomically: the zip is written to a temporary file in the target folder and renamed over
    /// <paramref name="path"/> only when complete, so an existing model is never left half-written.
    /// </summary>
    public static void Save(MLContext ml, ITransformer model, ModelMetadata metadata, string path)
    {
        WriteAtomically(path, temp =>
        {
            ml.Model.Save(model, null, temp);
            using var zip = ZipFile.Open(temp, ZipArchiveMode.Update);
            var entry = zip.CreateEntry(MetadataEntry, CompressionLevel.Optimal);
            using var stream = entry.Open();
            JsonSerializer.Serialize(stream, metadata, JsonOptions);
        });
    }

    /// <summary>Writes a file through a temporary sibling and a rename, so readers never see a partial file.</summary>
    /// <exception cref="MLTransferException">The folder cannot be written; the previous file is left intact.</exception>
    public static void WriteAtomically(string path, Action<string> write)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        var temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            Directory.CreateDirectory(dir);
            write(temp);
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw new MLTransferException($"Could not write {Path.GetFileName(full)}: {e.Message}", full,
                "Check that the folder is writable and the disk has space; any previous file there is unchanged", e);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Loads a model zip and its metadata.</summary>
    /// <exception cref="MLTransferException">The file is missing, not a model zip, truncated, or from a newer version.</exception>
    public static (ITransformer Model, ModelMetadata Metadata) Load(MLContext ml, string path)
    {
        var metadata = ReadMetadata(path);
        try
        {
            using var stream = File.OpenRead(path);
            var model = ml.Model.Load(stream, out _);
            return (model, metadata);
        }
        catch (Exception e) when (e is not MLTransferException)
        {
            throw new MLTransferException($"The model zip could not be loaded by ML.NET: {e.Message}", path,
                "The file is damaged or was not written by a compatible version; retrain or copy it again", e);
        }
    }

    /// <summary>Reads only the metadata of a model zip.</summary>
    public static ModelMetadata ReadMetadata(string path)
    {
        if (!File.Exists(path))
            throw new MLTransferException("Model file not found", path, "Check the path, or train a model first with 'mltransfer train'");
        ModelMetadata? metadata;
        try
        {
            using var zip = ZipFile.OpenRead(path);
            var entry = zip.GetEntry(MetadataEntry)
                ?? throw new MLTransferException("The zip is not an MLTransfer model (it has no MLTransfer/metadata.json)", path,
                    "Pass a model written by 'mltransfer train' or 'finetune'; a zip saved from the TransferImageClassification estimator loads with mlContext.Model.Load, or becomes one ONNX file with 'mltransfer export'");
            using var stream = entry.Open();
            using var doc = JsonDocument.Parse(stream);
            var version = doc.RootElement.TryGetProperty("formatVersion", out var v) && v.TryGetInt32(out var n) ? n : 0;
            if (version > CurrentFormatVersion)
                throw new MLTransferException($"The model uses format version {version}, newer than this MLTransfer supports ({CurrentFormatVersion})", path,
                    "Upgrade MLTransfer to load it");
            if (version < 1)
                throw new MLTransferException("The model's metadata has no valid format version", path, "Retrain the model");
            metadata = doc.RootElement.Deserialize<ModelMetadata>(JsonOptions);
        }
        catch (Exception e) when (e is InvalidDataException or JsonException or IOException or NotSupportedException)
        {
            throw new MLTransferException($"The model file is damaged or truncated: {e.Message}", path, "Retrain the model or copy it again", e);
        }
        return metadata ?? throw new MLTransferException("The model's metadata is empty", path, "Retrain the model");
    }

    private static void TryDelete(string path)
    {
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
