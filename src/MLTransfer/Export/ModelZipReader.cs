using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;
using System.Text.Json;
using MLTransfer.Backbones;
using MLTransfer.Backbones.Onnx;

namespace MLTransfer.Export;

/// <summary>
/// Reads a model zip as the untrusted input it is: sizes are checked from the zip directory before
/// anything is read, every read is capped at the size the directory states, every entry's CRC is
/// verified (.NET's zip reader does not, and ML.NET would otherwise load silently altered weights), the
/// metadata is validated field by field, and the embedded backbone graph is checked against it.
/// </summary>
internal static class ModelZipReader
{
    /// <summary>Largest model file accepted.</summary>
    public const long MaxZipBytes = 4L << 30;
    /// <summary>Most entries a model zip may hold (a train zip has about 16).</summary>
    public const int MaxEntries = 4096;
    /// <summary>Largest entry: ML.NET reads each embedded graph into one array.</summary>
    public const long MaxEntryBytes = int.MaxValue - 4096;
    /// <summary>Largest total of the entries' uncompressed sizes.</summary>
    public const long MaxTotalBytes = 6L << 30;
    /// <summary>Largest metadata entry; real ones are a few kilobytes.</summary>
    public const int MaxMetadataBytes = 4 << 20;

    /// <summary>ML.NET's name for the entry holding an embedded ONNX graph.</summary>
    public const string OnnxEntryName = "OnnxModel";

    /// <summary>Reads and validates only the metadata (the zip's directory is size-checked first).</summary>
    /// <exception cref="MLTransferException">Not a readable MLTransfer model zip, or invalid metadata.</exception>
    public static ModelMetadata ReadMetadata(string path) => WithZip(path, zip => Metadata(zip, path));

    /// <summary>
    /// Verifies the whole zip: metadata, every entry's checksum, and the embedded backbone graph against
    /// the metadata (input size, feature width, and the preparation stamp: source checksum, resize mode,
    /// channel order, normalisation).
    /// </summary>
    /// <exception cref="MLTransferException">Anything that would make the model predict wrongly or fail.</exception>
    public static ModelMetadata Verify(string path) => VerifyAndReadGraphs(path).Metadata;

    /// <summary>
    /// <see cref="Verify"/>, also returning every embedded ONNX graph it parsed, for a caller that needs them (the
    /// fused graph is built from them) without unzipping and parsing them a second time.
    /// </summary>
    /// <exception cref="MLTransferException">Anything that would make the model predict wrongly or fail.</exception>
    public static (ModelMetadata Metadata, List<ModelProto> Graphs) VerifyAndReadGraphs(string path) => WithZip(path, zip =>
    {
        var metadata = Metadata(zip, path);
        // Graph and calibration entries are checksummed as they are read below; each is inflated once.
        VerifyChecksums(zip, path, skip: e => e.Name == OnnxEntryName || e.FullName == CalibrationEntry.Name);
        var graphs = EmbeddedGraphs(zip, path);
        var backbones = graphs.Where(IsBackbone).ToList();
        if (backbones.Count != 1)
            throw new MLTransferException(backbones.Count == 0
                    ? "The zip's ML.NET chain has no MLTransfer backbone graph, although it carries MLTransfer metadata"
                    : $"The zip holds {backbones.Count} MLTransfer backbone graphs where one is expected", path,
                "The zip was altered or assembled by hand; use a model written by 'mltransfer train' or 'finetune'");
        CheckBackbone(backbones[0], metadata, path);
        return (WithCalibration(zip, metadata, path), graphs);
    });

    /// <summary>Checks sizes and checksums only, for zips that carry no MLTransfer metadata (estimator zips).</summary>
    public static void VerifyChecksums(string path) => WithZip(path, zip =>
    {
        VerifyChecksums(zip, path, skip: _ => false);
        return 0;
    });

    /// <summary>Every ONNX graph ML.NET embedded in the zip, read within the size limits.</summary>
    public static List<ModelProto> ReadEmbeddedGraphs(string path) => WithZip(path, zip => EmbeddedGraphs(zip, path));

    /// <summary>True when the file is a zip holding MLTransfer metadata (read from the zip directory only).</summary>
    public static bool LooksLikeModelZip(string path)
    {
        try
        {
            return WithZip(path, zip => MetadataEntries(zip).Count > 0);
        }
        catch (MLTransferException)
        {
            return false;
        }
    }

    /// <summary>The backbone graph: the one that takes <see cref="PreparedBackbone.InputName"/>.</summary>
    public static bool IsBackbone(ModelProto graph) => graph.Graph.Input.Any(i => i.Name == PreparedBackbone.InputName);

    private static T WithZip<T>(string path, Func<ZipArchive, T> read)
    {
        var file = CheckFile(path);
        try
        {
            using var stream = new FileStream(file.FullName, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
            using var zip = new ZipArchive(stream, ZipArchiveMode.Read);
            CheckDirectory(zip, path);
            return read(zip);
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw Damaged(path, e.Message, e);
        }
    }

    private static FileInfo CheckFile(string path)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new MLTransferException("No model file was given", null, "Pass the path of a model zip written by 'mltransfer train'");
        if (Directory.Exists(path))
            throw new MLTransferException("The model path is a folder, not a model zip", path, "Pass the .zip file written by 'mltransfer train'");
        var file = new FileInfo(path);
        if (!file.Exists)
            throw new MLTransferException("Model file not found", path, "Check the path, or train a model first with 'mltransfer train'");
        // Also what a FIFO, device or socket reports; opening one could block, so nothing is opened.
        if (file.Length == 0)
            throw new MLTransferException("The model file is empty (or not a regular file)", path, "Pass a model zip written by 'mltransfer train'");
        if (file.Length > MaxZipBytes)
            throw new MLTransferException($"The model file is {file.Length:N0} bytes, more than the {MaxZipBytes:N0} a model zip may have", path,
                "Pass a model zip written by 'mltransfer train'");
        return file;
    }

    private static void CheckDirectory(ZipArchive zip, string path)
    {
        if (zip.Entries.Count > MaxEntries)
            throw Damaged(path, $"it has {zip.Entries.Count:N0} entries (at most {MaxEntries:N0} are expected)");
        long total = 0;
        foreach (var entry in zip.Entries)
        {
            if (entry.Length < 0 || entry.Length > MaxEntryBytes)
                throw Damaged(path, $"entry '{entry.FullName}' declares {entry.Length:N0} bytes (at most {MaxEntryBytes:N0} are accepted)");
            total += entry.Length;
        }
        if (total > MaxTotalBytes)
            throw Damaged(path, $"its entries declare {total:N0} bytes in all (at most {MaxTotalBytes:N0} are accepted)");
    }

    private static ModelMetadata Metadata(ZipArchive zip, string path)
    {
        var entries = MetadataEntries(zip);
        if (entries.Count == 0)
            throw new MLTransferException($"The zip is not an MLTransfer model (it has no {ModelPackage.MetadataEntry})", path,
                "Pass a model written by 'mltransfer train' or 'finetune', or saved with mlContext.Model.Save from a pipeline with TransferImageClassification");
        if (entries.Count > 1)
            throw new MLTransferException($"The zip holds {entries.Count} MLTransfer models where one is expected", path,
                "Save the pipeline with one TransferImageClassification step, or use a model written by 'mltransfer train'");
        var entry = entries[0];
        if (entry.Length > MaxMetadataBytes)
            throw Damaged(path, $"its metadata entry declares {entry.Length:N0} bytes (at most {MaxMetadataBytes:N0} are accepted)");
        var bytes = ReadEntry(entry, path);
        ModelMetadata? metadata;
        try
        {
            using var doc = JsonDocument.Parse(bytes);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw Invalid(path, "it is not a JSON object");
            var version = doc.RootElement.TryGetProperty("formatVersion", out var v) && v.TryGetInt32(out var n) ? n : 0;
            if (version > ModelPackage.CurrentFormatVersion)
                throw new MLTransferException($"The model uses format version {version}, newer than this MLTransfer supports ({ModelPackage.CurrentFormatVersion})", path,
                    "Upgrade MLTransfer to load it");
            if (version < 1)
                throw Invalid(path, "it has no valid format version");
            metadata = doc.RootElement.Deserialize<ModelMetadata>(ModelPackage.JsonOptions);
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException or FormatException or OverflowException or NotSupportedException)
        {
            throw Invalid(path, FirstLine(e.Message), e);
        }
        if (metadata is null)
            throw Invalid(path, "it is empty");
        ModelMetadataRules.Check(metadata, path);
        return metadata;
    }

    /// <summary>
    /// The metadata entry at the root (train and finetune zips), or inside the folder ML.NET gave a fitted
    /// TransferImageClassification step when its pipeline was saved.
    /// </summary>
    private static List<ZipArchiveEntry> MetadataEntries(ZipArchive zip) =>
        zip.Entries.Where(e => e.FullName == ModelPackage.MetadataEntry || e.FullName.EndsWith("/" + ModelPackage.MetadataEntry, StringComparison.Ordinal)).ToList();

    /// <summary>Reads an entry whole, refusing more bytes than the zip directory declared.</summary>
    private static byte[] ReadEntry(ZipArchiveEntry entry, string path)
    {
        var declared = (int)entry.Length;
        var bytes = new byte[declared];
        using var stream = entry.Open();
        var read = stream.ReadAtLeast(bytes, declared, throwOnEndOfStream: false);
        if (read < declared)
            throw Damaged(path, $"entry '{entry.FullName}' ends after {read:N0} of its {declared:N0} bytes");
        if (stream.ReadByte() >= 0)
            throw Damaged(path, $"entry '{entry.FullName}' holds more data than the {declared:N0} bytes it declares");
        var crc = Crc32.HashToUInt32(bytes);
        if (crc != entry.Crc32)
            throw Damaged(path, $"entry '{entry.FullName}' fails its checksum");
        return bytes;
    }

    private static void VerifyChecksums(ZipArchive zip, string path, Func<ZipArchiveEntry, bool> skip)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 16);
        try
        {
            foreach (var entry in zip.Entries.Where(e => !skip(e)))
            {
                var crc = new Crc32();
                long total = 0;
                using var stream = entry.Open();
                int n;
                while ((n = stream.Read(buffer, 0, buffer.Length)) > 0)
                {
                    total += n;
                    // A stream that inflates beyond its declared size is a bomb or damage; stop reading now.
                    if (total > entry.Length)
                        throw Damaged(path, $"entry '{entry.FullName}' holds more data than the {entry.Length:N0} bytes it declares");
                    crc.Append(buffer.AsSpan(0, n));
                }
                if (total != entry.Length)
                    throw Damaged(path, $"entry '{entry.FullName}' ends after {total:N0} of its {entry.Length:N0} bytes");
                if (crc.GetCurrentHashAsUInt32() != entry.Crc32)
                    throw Damaged(path, $"entry '{entry.FullName}' fails its checksum");
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static List<ModelProto> EmbeddedGraphs(ZipArchive zip, string path)
    {
        var result = new List<ModelProto>();
        foreach (var entry in zip.Entries.Where(e => e.Name == OnnxEntryName))
        {
            var bytes = ReadEntry(entry, path);
            // ML.NET's WriteByteArray: int32 length, then the bytes. A length that disagrees would make ML.NET
            // allocate whatever it says, so it is checked here first.
            if (bytes.Length < 4 || BinaryPrimitives.ReadInt32LittleEndian(bytes) != bytes.Length - 4)
                throw Damaged(path, $"entry '{entry.FullName}' does not hold one length-prefixed ONNX graph");
            result.Add(OnnxModelIO.Parse(bytes[4..], $"{path}:{entry.FullName}"));
        }
        return result;
    }

    /// <summary>
    /// The metadata with the calibration's reference features read from <see cref="CalibrationEntry.Name"/>. The
    /// entry's size must be exactly what the metadata's reference count and feature width call for (checked before
    /// reading), and its temperature, threshold and k must be the metadata's.
    /// </summary>
    private static ModelMetadata WithCalibration(ZipArchive zip, ModelMetadata metadata, string path)
    {
        var entry = zip.GetEntry(CalibrationEntry.Name);
        if (metadata.Calibration is not { } described)
            return entry is null ? metadata : throw Mismatch(path, "the zip holds calibration data that its metadata does not describe");
        if (entry is null)
            throw Mismatch(path, $"the metadata describes a calibration but the zip has no {CalibrationEntry.Name}");
        var expected = CalibrationEntry.ExpectedBytes(described.ReferenceImages, metadata.FeatureSize);
        if (entry.Length != expected)
            throw Mismatch(path, $"its calibration entry has {entry.Length:N0} bytes; {described.ReferenceImages:N0} reference vectors of {metadata.FeatureSize:N0} features take {expected:N0}");
        var (calibration, problem) = CalibrationEntry.Read(ReadEntry(entry, path), described, metadata.FeatureSize);
        return calibration is null ? throw Mismatch(path, problem!) : metadata with { Calibration = calibration };
    }

    private static void CheckBackbone(ModelProto backbone, ModelMetadata metadata, string path)
    {
        var d = metadata.Backbone;
        var input = backbone.Graph.Input.First(i => i.Name == PreparedBackbone.InputName);
        var dims = OnnxShapes.Dims(input);
        long? Dim(int i) => dims is { Count: 4 } ? OnnxShapes.StaticValue(dims[i]) : null;
        if (Dim(1) != 3 || Dim(2) != d.InputHeight || Dim(3) != d.InputWidth)
            throw Mismatch(path, $"the metadata says the backbone takes {d.InputWidth}×{d.InputHeight} images but the embedded graph takes {OnnxShapes.FormatShape(input)}");
        var output = backbone.Graph.Output.FirstOrDefault(o => o.Name == PreparedBackbone.OutputName);
        var outDims = OnnxShapes.Dims(output);
        var width = outDims is { Count: 2 } ? OnnxShapes.StaticValue(outDims[1]) : null;
        if (width != metadata.FeatureSize)
            throw Mismatch(path, $"the metadata says {metadata.FeatureSize}-d features but the embedded backbone gives {OnnxShapes.FormatShape(output)}");

        var stamp = PreparationStamp.Read(backbone, path);
        if (stamp is null)
            return; // prepared before stamps existed: the checks above are all that can be made
        if (!string.Equals(stamp.SourceSha256, metadata.BackboneSha256, StringComparison.OrdinalIgnoreCase))
            throw Mismatch(path, $"the metadata names backbone file SHA-256 {metadata.BackboneSha256} but the embedded backbone was prepared from {stamp.SourceSha256}");
        if (stamp.InputWidth != d.InputWidth || stamp.InputHeight != d.InputHeight || stamp.FeatureSize != metadata.FeatureSize)
            throw Mismatch(path, "the metadata's input size or feature width differs from the embedded backbone's preparation record");
        if (stamp.ResizeMode != d.ResizeMode || stamp.ChannelOrder != d.ChannelOrder)
            throw Mismatch(path, $"the metadata says {d.ResizeMode}/{d.ChannelOrder} but the embedded backbone was prepared for {stamp.ResizeMode}/{stamp.ChannelOrder}");
        static bool Same(IReadOnlyList<float> a, IReadOnlyList<float> b) => a.Count == b.Count && a.Zip(b).All(p => Math.Abs(p.First - p.Second) <= 1e-6f);
        if (!Same(stamp.Mean, d.Mean) || !Same(stamp.Std, d.Std))
            throw Mismatch(path, "the metadata's normalisation (mean/std) differs from the one folded into the embedded backbone");
    }

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();

    private static MLTransferException Damaged(string path, string detail, Exception? inner = null) =>
        new($"The model file is damaged or truncated: {FirstLine(detail)}", path, "Retrain the model or copy it again", inner);

    private static MLTransferException Invalid(string path, string detail, Exception? inner = null) =>
        new($"The model's metadata ({ModelPackage.MetadataEntry}) is invalid: {detail}", path, "Retrain the model or copy it again", inner);

    private static MLTransferException Mismatch(string path, string detail) =>
        new($"The model's metadata does not match the model it describes: {detail}", path,
            "The zip was altered or assembled from different models; retrain it or copy the original again");
}
