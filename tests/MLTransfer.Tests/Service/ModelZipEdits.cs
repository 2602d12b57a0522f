using System.IO.Compression;
using System.Text.Json.Nodes;
using MLTransfer.Export;

namespace MLTransfer.Tests.Service;

/// <summary>Copies of a real model zip with its metadata edited, for models that load but must not be served.</summary>
public static class ModelZipEdits
{
    /// <summary>Writes a copy of <paramref name="model"/> to <paramref name="destination"/> with its metadata changed by <paramref name="edit"/>.</summary>
    public static void WithMetadata(string model, string destination, Action<JsonObject> edit)
    {
        var temp = destination + ".editing";
        File.Copy(model, temp, overwrite: true);
        using (var zip = ZipFile.Open(temp, ZipArchiveMode.Update))
        {
            var entry = zip.GetEntry(ModelPackage.MetadataEntry)!;
            JsonObject metadata;
            using (var stream = entry.Open())
                metadata = JsonNode.Parse(stream)!.AsObject();
            edit(metadata);
            entry.Delete();
            using var writer = zip.CreateEntry(ModelPackage.MetadataEntry).Open();
            using var json = new System.Text.Json.Utf8JsonWriter(writer);
            metadata.WriteTo(json);
        }
        // Renamed over the destination in one step, so a watcher never loads a half-written copy.
        File.Move(temp, destination, overwrite: true);
    }

    /// <summary>Writes a copy of <paramref name="model"/> without its metadata entry: an ML.NET zip that is not an MLTransfer model.</summary>
    public static void WithoutMetadata(string model, string destination)
    {
        var temp = destination + ".editing";
        File.Copy(model, temp, overwrite: true);
        using (var zip = ZipFile.Open(temp, ZipArchiveMode.Update))
            zip.GetEntry(ModelPackage.MetadataEntry)!.Delete();
        File.Move(temp, destination, overwrite: true);
    }

    /// <summary>The metadata with its last class name removed: the model gives more scores than there are names.</summary>
    public static void DropLastClassName(JsonObject metadata)
    {
        var names = metadata["classNames"]!.AsArray();
        names.RemoveAt(names.Count - 1);
    }
}
