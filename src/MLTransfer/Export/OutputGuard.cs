using System.Text;
using System.Text.Json;
using MLTransfer.Backbones.Onnx;
using MLTransfer.Data;

namespace MLTransfer.Export;

/// <summary>What kind of file a command writes, so an existing file can be recognised as an earlier output of ours.</summary>
internal enum OutputKind
{
    /// <summary>A model zip (it holds <c>MLTransfer/metadata.json</c>).</summary>
    ModelZip,
    /// <summary>A metrics JSON file written beside a model.</summary>
    MetricsJson,
    /// <summary>An ONNX model written by <c>export</c>.</summary>
    Onnx,
    /// <summary>An HTML report.</summary>
    HtmlReport,
    /// <summary>A feature shard (Parquet) written by <c>extract</c>.</summary>
    FeatureShard,
}

/// <summary>
/// Decides whether a file may be written: never onto a run's inputs (the data folder or anything inside
/// it, a manifest, an input image, the backbone file, the model being read), never onto a folder, and never
/// over an existing file that is not an earlier output of the same kind unless the caller forces it.
/// </summary>
/// <remarks>
/// A path typed by a person is one slip away from an input (<c>-o data/daisy/x.jpg</c>); a wrong model is
/// retrained in minutes, a lost photo or manifest may not come back. Paths are compared after resolving
/// symbolic links, so a link cannot smuggle an input past the check.
/// </remarks>
internal static class OutputGuard
{
    /// <summary>Marker in the HTML reports this library writes, so a later run may replace them.</summary>
    public const string HtmlMarker = "<meta name=\"generator\" content=\"MLTransfer\">";

    /// <summary>Throws unless <paramref name="output"/> may be written.</summary>
    /// <param name="output">The file about to be written.</param>
    /// <param name="kind">What it will hold.</param>
    /// <param name="inputs">
    /// Files and folders the run reads. A folder protects everything inside it; a manifest should be given
    /// together with the images it lists (see <see cref="InputsOf"/>).
    /// </param>
    /// <param name="force">Replace an existing file even when it is not an earlier output of this kind.</param>
    /// <exception cref="MLTransferException">The path is empty, a folder, one of the inputs, inside an input folder, or a foreign file.</exception>
    public static void Check(string output, OutputKind kind, IEnumerable<string?> inputs, bool force = false)
    {
        if (string.IsNullOrWhiteSpace(output))
            throw new MLTransferException("The output path is empty", null, "Pass a file path, e.g. models/flowers.zip");
        var full = Path.GetFullPath(output);
        if (Directory.Exists(full))
            throw new MLTransferException($"The output path is a folder, not a {Describe(kind)} file", full, $"Pass a file path inside it, e.g. {Path.Combine(output, Example(kind))}");
        var target = Real(full);
        foreach (var input in inputs)
        {
            if (string.IsNullOrWhiteSpace(input))
                continue;
            var inputFull = Path.GetFullPath(input);
            var real = Real(inputFull);
            if (PathUtil.Comparer.Equals(target, real))
                throw new MLTransferException($"The output would overwrite an input of this run ({inputFull})", full,
                    "Choose an output path outside the data, backbone and model files");
            if (Directory.Exists(real) && PathUtil.IsWithin(target, real))
                throw new MLTransferException($"The output is inside the data folder {inputFull}; writing there would add files to the training data", full,
                    "Choose an output path outside the data folder, e.g. models/NAME.zip");
        }
        if (!force && File.Exists(full) && !IsOurs(full, kind))
            throw new MLTransferException($"A file that is not an MLTransfer {Describe(kind)} is already there", full,
                "Choose another output path, or pass force: true to the save (CLI: --force) to replace it");
    }

    /// <summary>
    /// The paths a run on <paramref name="dataPath"/> reads: the folder, or the manifest and every image it lists.
    /// </summary>
    public static IReadOnlyList<string> InputsOf(string dataPath)
    {
        var full = Path.GetFullPath(dataPath);
        if (!File.Exists(full))
            return [full];
        try
        {
            return [full, .. DatasetLoader.Load(full).Images.Select(i => i.Path)];
        }
        catch (MLTransferException)
        {
            return [full]; // the run itself will report the manifest's problem
        }
    }

    /// <summary>True when <paramref name="path"/> is an earlier output of <paramref name="kind"/>.</summary>
    public static bool IsOurs(string path, OutputKind kind)
    {
        try
        {
            return kind switch
            {
                OutputKind.ModelZip => ModelZipReader.LooksLikeModelZip(path),
                OutputKind.MetricsJson => IsMetricsJson(path),
                OutputKind.Onnx => OnnxModelIO.Load(path).MetadataProps.Any(p => p.Key is FusedOnnxExporter.FusedMetadataKey or "mltransfer.int8"),
                OutputKind.HtmlReport => ReadHead(path, 4096).Contains(HtmlMarker, StringComparison.Ordinal),
                // The name says which shard it is and the reader checks the rest; a Parquet file of that name is ours to replace.
                OutputKind.FeatureShard => Path.GetFileName(path).StartsWith("shard-", StringComparison.Ordinal) && ReadHead(path, 4).StartsWith("PAR1", StringComparison.Ordinal),
                _ => false,
            };
        }
        catch (Exception e) when (e is MLTransferException or IOException or UnauthorizedAccessException or JsonException)
        {
            return false;
        }
    }

    private static bool IsMetricsJson(string path)
    {
        if (new FileInfo(path).Length > 64 << 20)
            return false;
        using var stream = File.OpenRead(path);
        using var doc = JsonDocument.Parse(stream);
        return doc.RootElement.ValueKind == JsonValueKind.Object
            && doc.RootElement.TryGetProperty("classNames", out _) && doc.RootElement.TryGetProperty("counts", out _);
    }

    private static string ReadHead(string path, int bytes)
    {
        using var stream = File.OpenRead(path);
        var buffer = new byte[bytes];
        var n = stream.ReadAtLeast(buffer, bytes, throwOnEndOfStream: false);
        return Encoding.UTF8.GetString(buffer, 0, n);
    }

    private static string Real(string full)
    {
        try { return PathUtil.RealPath(full); }
        catch (IOException) { return full; }
    }

    private static string Describe(OutputKind kind) => kind switch
    {
        OutputKind.ModelZip => "model zip",
        OutputKind.MetricsJson => "metrics JSON",
        OutputKind.Onnx => "ONNX export",
        OutputKind.FeatureShard => "feature shard",
        _ => "report",
    };

    private static string Example(OutputKind kind) => kind switch
    {
        OutputKind.ModelZip => "model.zip",
        OutputKind.MetricsJson => "model.metrics.json",
        OutputKind.Onnx => "model.onnx",
        OutputKind.FeatureShard => "features/",
        _ => "report.html",
    };
}
