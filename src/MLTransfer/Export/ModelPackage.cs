using System.IO.Compression;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.ML;
using MLTransfer.Backbones.Onnx;

namespace MLTransfer.Export;

/// <summary>
/// Reads and writes model zips: the standard ML.NET zip from <c>mlContext.Model.Save</c> (which embeds
/// the backbone ONNX bytes) plus one extra entry holding <see cref="ModelMetadata"/>. ML.NET ignores the
/// extra entry, so the zip stays loadable by plain <c>mlContext.Model.Load</c>.
/// </summary>
public static class ModelPackage
{
    /// <summary>
    /// The newest metadata layout this version reads and writes. Zips of <c>train</c> and <c>finetune</c> are
    /// written as version 1, which older readers load; TransferImageClassification zips as version 2, since a
    /// version-1 reader would feed their chain the wrong input.
    /// </summary>
    public const int CurrentFormatVersion = 2;
    /// <summary>The layout of zips whose chain takes a decoded image (<see cref="ModelInputKind.Image"/>).</summary>
    internal const int ImageInputFormatVersion = 1;
    /// <summary>
    /// Zip entry holding the metadata. In a zip saved by <c>mlContext.Model.Save</c> from a pipeline with
    /// TransferImageClassification, the entry sits in the folder ML.NET gave that step (ending in this path).
    /// </summary>
    public const string MetadataEntry = "MLTransfer/metadata.json";

    /// <summary>JSON settings for metadata and metrics files.</summary>
    internal static JsonSerializerOptions JsonOptions { get; } = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        Converters = { new JsonStringEnumConverter() },
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>
    /// Saves atomically: the zip is written to a temporary file in the target folder and renamed over
    /// <paramref name="path"/> only when complete, so an existing model is never left half-written.
    /// </summary>
    internal static void Save(MLContext ml, ITransformer model, ModelMetadata metadata, string path)
    {
        ProcessTemp.WriteAtomically(path, temp =>
        {
            ml.Model.Save(model, null, temp);
            using var zip = ZipFile.Open(temp, ZipArchiveMode.Update);
            var entry = zip.CreateEntry(MetadataEntry, CompressionLevel.Optimal);
            using (var stream = entry.Open())
                JsonSerializer.Serialize(stream, metadata, JsonOptions);
            if (metadata.Calibration?.Reference is not null)
            {
                using var stream = zip.CreateEntry(CalibrationEntry.Name, CompressionLevel.Optimal).Open();
                stream.Write(CalibrationEntry.Write(metadata.Calibration));
            }
        });
    }

    /// <summary>
    /// Loads a model zip and its metadata. The zip is untrusted input: its sizes, checksums and metadata are
    /// verified, and the metadata is checked against the embedded backbone, before ML.NET reads it.
    /// </summary>
    /// <exception cref="MLTransferException">The file is missing, damaged, altered, or from a newer version.</exception>
    public static (ITransformer Model, ModelMetadata Metadata) Load(MLContext ml, string path)
    {
        var metadata = ModelZipReader.Verify(path);
        return (LoadChain(ml, path), metadata);
    }

    /// <summary><see cref="Load"/>, also returning the embedded ONNX graphs the verification parsed.</summary>
    /// <exception cref="MLTransferException">The file is missing, damaged, altered, or from a newer version.</exception>
    internal static (ITransformer Model, ModelMetadata Metadata, List<ModelProto> Graphs) LoadWithGraphs(MLContext ml, string path)
    {
        var (metadata, graphs) = ModelZipReader.VerifyAndReadGraphs(path);
        return (LoadChain(ml, path), metadata, graphs);
    }

    /// <summary>ML.NET's load of a verified zip.</summary>
    private static ITransformer LoadChain(MLContext ml, string path)
    {
        // A bytes model's first step is MLTransfer's decoder, which ML.NET finds by contract name in registered assemblies.
        ml.ComponentCatalog.RegisterAssembly(typeof(ModelPackage).Assembly);
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
            return ml.Model.Load(stream, out _);
        }
        catch (Exception e) when (e is not MLTransferException and not OutOfMemoryException)
        {
            throw new MLTransferException($"The model zip could not be loaded by ML.NET: {e.Message.Split('\n')[0]}", path,
                "The file is damaged or was not written by a compatible version; retrain or copy it again", e);
        }
    }

    /// <summary>Reads only the metadata of a model zip (size-checked and validated; the rest of the zip is not read).</summary>
    /// <exception cref="MLTransferException">Not a readable MLTransfer model zip, or invalid metadata.</exception>
    public static ModelMetadata ReadMetadata(string path) => ModelZipReader.ReadMetadata(path);

}
