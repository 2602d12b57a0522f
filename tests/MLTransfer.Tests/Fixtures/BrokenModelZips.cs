using System.IO.Compression;
using System.Text.Json.Nodes;
using Microsoft.ML;
using MLTransfer.Export;

namespace MLTransfer.Tests.Fixtures;

/// <summary>The ways a model zip handed to us can be wrong, as found by a hostile review (issue 17).</summary>
public enum BrokenZip
{
    /// <summary>The first half of the file only.</summary>
    Truncated,
    /// <summary>The MLTransfer/metadata.json entry deleted.</summary>
    MetadataRemoved,
    /// <summary>Class names in reverse order (every answer would name the wrong class).</summary>
    ClassNamesReversed,
    /// <summary>Three more class names than the model scores.</summary>
    TooManyClassNames,
    /// <summary>An empty class list.</summary>
    NoClassNames,
    /// <summary>Two class names for a model of more classes.</summary>
    TwoClassNames,
    /// <summary><c>"classNames": null</c>.</summary>
    NullClassNames,
    /// <summary>A plain ML.NET zip of another pipeline, with this model's metadata copied in.</summary>
    ForeignChain,
    /// <summary>A backbone SHA-256 that is not the one the embedded backbone was prepared from.</summary>
    BackboneShaMismatch,
    /// <summary>A metadata entry that inflates to 1 GiB (a few MB on disk).</summary>
    MetadataBomb,
    /// <summary><c>"backbone": null</c>.</summary>
    BackboneNull,
    /// <summary>Backbone input size 0.</summary>
    InputSizeZero,
    /// <summary>Backbone input size 100000.</summary>
    InputSizeHuge,
    /// <summary>A plausible input size that is not the embedded backbone's.</summary>
    InputSizeWrong,
    /// <summary>Another resize mode than the backbone was prepared for (would change every prediction).</summary>
    ResizeModeChanged,
    /// <summary>A feature width that is not the backbone's.</summary>
    FeatureSizeWrong,
    /// <summary>One byte of the embedded backbone's weights changed (same size, zip checksum now wrong).</summary>
    WeightsAltered,
}

/// <summary>Writes broken variants of a good model zip; each test generates the ones it needs.</summary>
public static class BrokenModelZips
{
    /// <summary>Every kind.</summary>
    public static IReadOnlyList<BrokenZip> All { get; } = Enum.GetValues<BrokenZip>();

    /// <summary>Writes <paramref name="kind"/> of <paramref name="goodZip"/> to <paramref name="output"/> and returns it.</summary>
    public static string Write(string goodZip, BrokenZip kind, string output)
    {
        File.Copy(goodZip, output, overwrite: true);
        switch (kind)
        {
            case BrokenZip.Truncated:
                var bytes = File.ReadAllBytes(goodZip);
                File.WriteAllBytes(output, bytes[..(bytes.Length / 2)]);
                break;
            case BrokenZip.MetadataRemoved:
                using (var zip = ZipFile.Open(output, ZipArchiveMode.Update))
                    zip.GetEntry(ModelPackage.MetadataEntry)!.Delete();
                break;
            case BrokenZip.ClassNamesReversed:
                EditMetadata(output, m => m["classNames"] = new JsonArray(m["classNames"]!.AsArray().Reverse().Select(n => (JsonNode?)n!.DeepClone()).ToArray()));
                break;
            case BrokenZip.TooManyClassNames:
                EditMetadata(output, m =>
                {
                    var names = m["classNames"]!.AsArray();
                    foreach (var extra in new[] { "extra1", "extra2", "extra3" })
                        names.Add(extra);
                });
                break;
            case BrokenZip.NoClassNames:
                EditMetadata(output, m => m["classNames"] = new JsonArray());
                break;
            case BrokenZip.TwoClassNames:
                EditMetadata(output, m => m["classNames"] = new JsonArray("a", "b"));
                break;
            case BrokenZip.NullClassNames:
                EditMetadata(output, m => m["classNames"] = null);
                break;
            case BrokenZip.ForeignChain:
                WriteForeignChain(goodZip, output);
                break;
            case BrokenZip.BackboneShaMismatch:
                EditMetadata(output, m => m["backboneSha256"] = new string('a', 64));
                break;
            case BrokenZip.MetadataBomb:
                WriteMetadataBomb(goodZip, output);
                break;
            case BrokenZip.BackboneNull:
                EditMetadata(output, m => m["backbone"] = null);
                break;
            case BrokenZip.InputSizeZero:
                EditMetadata(output, m => { m["backbone"]!["inputWidth"] = 0; m["backbone"]!["inputHeight"] = 0; });
                break;
            case BrokenZip.InputSizeHuge:
                EditMetadata(output, m => { m["backbone"]!["inputWidth"] = 100000; m["backbone"]!["inputHeight"] = 100000; });
                break;
            case BrokenZip.InputSizeWrong:
                EditMetadata(output, m =>
                {
                    var side = (int)m["backbone"]!["inputWidth"]! == 224 ? 192 : 224;
                    m["backbone"]!["inputWidth"] = side;
                    m["backbone"]!["inputHeight"] = side;
                });
                break;
            case BrokenZip.ResizeModeChanged:
                EditMetadata(output, m => m["backbone"]!["resizeMode"] = (string)m["backbone"]!["resizeMode"]! == "IsoCrop" ? "Fill" : "IsoCrop");
                break;
            case BrokenZip.FeatureSizeWrong:
                EditMetadata(output, m => m["featureSize"] = (int)m["featureSize"]! + 1);
                break;
            case BrokenZip.WeightsAltered:
                AlterGraphByte(output);
                break;
        }
        return output;
    }

    /// <summary>Applies <paramref name="edit"/> to the zip's metadata JSON in place.</summary>
    public static void EditMetadata(string zipPath, Action<JsonObject> edit)
    {
        using var zip = ZipFile.Open(zipPath, ZipArchiveMode.Update);
        var entry = zip.GetEntry(ModelPackage.MetadataEntry)!;
        JsonObject json;
        using (var r = entry.Open())
            json = JsonNode.Parse(r)!.AsObject();
        edit(json);
        entry.Delete();
        using var w = zip.CreateEntry(ModelPackage.MetadataEntry).Open();
        w.Write(System.Text.Encoding.UTF8.GetBytes(json.ToJsonString()));
    }

    /// <summary>The metadata JSON of a zip.</summary>
    public static JsonObject ReadMetadata(string zipPath)
    {
        using var zip = ZipFile.OpenRead(zipPath);
        using var r = zip.GetEntry(ModelPackage.MetadataEntry)!.Open();
        return JsonNode.Parse(r)!.AsObject();
    }

    private static void WriteForeignChain(string goodZip, string output)
    {
        var ml = new MLContext(1);
        var data = ml.Data.LoadFromEnumerable(new[] { new NumberRow { A = 1, B = 2 }, new NumberRow { A = 3, B = 4 } });
        var model = ml.Transforms.Concatenate("Features", nameof(NumberRow.A), nameof(NumberRow.B)).Fit(data);
        File.Delete(output);
        ml.Model.Save(model, data.Schema, output);
        var metadata = ReadMetadata(goodZip).ToJsonString();
        using var zip = ZipFile.Open(output, ZipArchiveMode.Update);
        using var w = zip.CreateEntry(ModelPackage.MetadataEntry).Open();
        w.Write(System.Text.Encoding.UTF8.GetBytes(metadata));
    }

    private static void WriteMetadataBomb(string goodZip, string output)
    {
        var json = ReadMetadata(goodZip).ToJsonString();
        using var zip = ZipFile.Open(output, ZipArchiveMode.Update);
        zip.GetEntry(ModelPackage.MetadataEntry)!.Delete();
        using var w = zip.CreateEntry(ModelPackage.MetadataEntry, CompressionLevel.Optimal).Open();
        w.Write(System.Text.Encoding.UTF8.GetBytes(json[..^1] + ",\"padding\":\""));
        // Valid JSON if anyone reads it all: a 1 GiB string of spaces.
        var spaces = new byte[1 << 20];
        Array.Fill(spaces, (byte)' ');
        for (var i = 0; i < 1024; i++)
            w.Write(spaces);
        w.Write("\"}"u8);
    }

    /// <summary>Changes one byte deep inside the embedded backbone graph without touching the zip's recorded checksum.</summary>
    private static void AlterGraphByte(string zipPath)
    {
        // Rewrite the graph entry stored (uncompressed) with one byte changed, then restore the old CRC in
        // both headers: the kind of silent damage a bad disk or a careless tool leaves.
        byte[] graph;
        string name;
        uint crc;
        using (var zip = ZipFile.Open(zipPath, ZipArchiveMode.Update))
        {
            var entry = zip.Entries.Where(e => e.Name == "OnnxModel").MaxBy(e => e.Length)!;
            name = entry.FullName;
            crc = entry.Crc32;
            using (var r = entry.Open())
            {
                using var buffer = new MemoryStream();
                r.CopyTo(buffer);
                graph = buffer.ToArray();
            }
            entry.Delete();
            graph[graph.Length / 2] ^= 0x55;
            using var w = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
            w.Write(graph);
        }
        var bytes = File.ReadAllBytes(zipPath);
        var nameBytes = System.Text.Encoding.UTF8.GetBytes(name);
        // Local header: CRC at offset 14; central directory header: CRC at offset 16.
        for (var at = bytes.AsSpan().IndexOf(nameBytes); at >= 0;)
        {
            if (at >= 30 && BitConverter.ToUInt32(bytes, at - 30) == 0x04034b50)
                BitConverter.TryWriteBytes(bytes.AsSpan(at - 30 + 14), crc);
            else if (at >= 46 && BitConverter.ToUInt32(bytes, at - 46) == 0x02014b50)
                BitConverter.TryWriteBytes(bytes.AsSpan(at - 46 + 16), crc);
            var next = bytes.AsSpan(at + 1).IndexOf(nameBytes);
            at = next < 0 ? -1 : at + 1 + next;
        }
        File.WriteAllBytes(zipPath, bytes);
    }

    private sealed class NumberRow
    {
        public float A { get; set; }
        public float B { get; set; }
    }
}
