using Google.Protobuf;

namespace MLTransfer.Backbones.Onnx;

/// <summary>
/// Reads and writes ONNX files with the minimal schema in <c>onnx_subset.proto</c>.
/// </summary>
/// <remarks>
/// Protobuf happily "parses" many non-ONNX byte strings (an empty file is a valid empty message), so a
/// successful parse is not enough: the result must also look like a model, or callers would fail much
/// later with a confusing error about a missing graph.
/// </remarks>
internal static class OnnxModelIO
{
    /// <summary>Parses ONNX bytes, failing with an actionable error when they are not a model.</summary>
    /// <param name="bytes">Content of an <c>.onnx</c> file.</param>
    /// <param name="source">File name or description used in error messages.</param>
    /// <exception cref="MLTransferException">The bytes are not a readable ONNX model.</exception>
    public static ModelProto Parse(byte[] bytes, string? source = null)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        var where = source ?? "in-memory model";
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw NotReadable(where, $"the protobuf data is invalid or truncated: {ex.Message}", ex);
        }

        // A model without IR version or without nodes is what random bytes or a truncated file tend to
        // decode to; a real exporter always writes both.
        if (model.Graph is null || model.Graph.Node.Count == 0)
            throw NotReadable(where, "it contains no graph nodes", null);
        if (!model.HasIrVersion || model.IrVersion <= 0)
            throw NotReadable(where, "it has no IR version", null);
        return model;
    }

    /// <summary>Reads and parses an ONNX file.</summary>
    /// <exception cref="MLTransferException">The file is missing or not a readable ONNX model.</exception>
    public static ModelProto Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return Parse(ReadFile(path), path);
    }

    /// <summary>Serializes a model to the ONNX wire format.</summary>
    public static byte[] Serialize(ModelProto model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.ToByteArray();
    }

    internal static byte[] ReadFile(string path)
    {
        if (!File.Exists(path))
            throw new MLTransferException("ONNX model file not found", path,
                "Check the path, or let MLTransfer download the backbone into its cache");
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new MLTransferException($"Cannot read the ONNX model file: {ex.Message}", path,
                "Check that the file is readable", ex);
        }
    }

    private static MLTransferException NotReadable(string where, string reason, Exception? inner) =>
        new($"{where} is not a readable ONNX model: {reason}", where,
            "Check that the file is a complete .onnx file (re-download it if it may be truncated; " +
            "TensorFlow, TFLite and PyTorch files must be converted to ONNX first)", inner);
}
