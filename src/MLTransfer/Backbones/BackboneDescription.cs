using MLTransfer.Images;

namespace MLTransfer.Backbones;

/// <summary>
/// Everything needed to use one pretrained ONNX image classifier as a frozen feature extractor:
/// where its file comes from, how to verify it, and how to preprocess images for it.
/// Modelled on timm's pretrained config: one record per backbone.
/// </summary>
/// <remarks>
/// Normalisation is always expressed as per-channel <see cref="Mean"/> and <see cref="Std"/> on pixels
/// scaled to [0, 1]: <c>x = (pixel / 255 - mean) / std</c>. A model that wants <c>pixel / 127.5 - 1</c>
/// is mean 0.5, std 0.5; one that wants raw 0..255 is mean 0, std 1/255. One form covers all of them,
/// and it is folded into the ONNX graph so that ML.NET only ever extracts raw pixels.
/// </remarks>
public sealed record BackboneDescription
{
    /// <summary>Catalog name, e.g. <c>mobilenet-v2</c>.</summary>
    public required string Name { get; init; }
    /// <summary>Architecture family, e.g. <c>mobilenet</c>, <c>resnet</c>.</summary>
    public string Family { get; init; } = "custom";
    /// <summary>File name in the cache or offline folder.</summary>
    public required string FileName { get; init; }
    /// <summary>Public download URLs, tried in order. Empty when the file is only found offline.</summary>
    public IReadOnlyList<string> Urls { get; init; } = [];
    /// <summary>Lower-case hex SHA-256 of the file, or null when unknown (user-supplied files).</summary>
    public string? Sha256 { get; init; }
    /// <summary>File size in bytes, or null when unknown.</summary>
    public long? SizeBytes { get; init; }
    /// <summary>Name of the image input of the graph, or null to take the graph's only input.</summary>
    public string? InputName { get; init; }
    /// <summary>Input width in pixels.</summary>
    public int InputWidth { get; init; } = 224;
    /// <summary>Input height in pixels.</summary>
    public int InputHeight { get; init; } = 224;
    /// <summary>Tensor layout of the input; only NCHW is supported.</summary>
    public string Layout { get; init; } = "NCHW";
    /// <summary>How images are fitted into the input size.</summary>
    public ResizeMode ResizeMode { get; init; } = ResizeMode.Fill;
    /// <summary>Order of the colour planes.</summary>
    public ChannelOrder ChannelOrder { get; init; } = ChannelOrder.Rgb;
    /// <summary>Per-channel mean on [0,1]-scaled pixels, in <see cref="ChannelOrder"/> order.</summary>
    public IReadOnlyList<float> Mean { get; init; } = [0.485f, 0.456f, 0.406f];
    /// <summary>Per-channel standard deviation on [0,1]-scaled pixels, in <see cref="ChannelOrder"/> order.</summary>
    public IReadOnlyList<float> Std { get; init; } = [0.229f, 0.224f, 0.225f];
    /// <summary>Name of the feature tensor, or null to detect it (input of the final classifier node).</summary>
    public string? FeatureTensor { get; init; }
    /// <summary>Width of the feature vector, or null when it is read from the graph.</summary>
    public int? FeatureSize { get; init; }
    /// <summary>Licence of the weights.</summary>
    public string? Licence { get; init; }
    /// <summary>Where the weights come from.</summary>
    public string? Source { get; init; }
    /// <summary>
    /// True when this record was checked end to end on the project's own machine (file hashed, graph prepared, a model
    /// trained, saved and reloaded); false for a record written from published facts only.
    /// </summary>
    public bool Verified { get; init; }
    /// <summary>What the check was, or why the record is unverified; shown by <c>backbones list</c>.</summary>
    public string? VerificationNote { get; init; }
    /// <summary>
    /// The NuGet package holding the backbone, or null for a plain ONNX file. A package backbone is found in the NuGet
    /// global packages folder or downloaded from the configured NuGet feeds, and its files are combined into
    /// <see cref="FileName"/>'s cached graph; <see cref="Urls"/>, <see cref="Sha256"/> and <see cref="SizeBytes"/> do not apply.
    /// </summary>
    public BackbonePackage? Package { get; init; }
}

/// <summary>
/// A backbone shipped in a NuGet package (such as ML.NET's <c>Microsoft.ML.DnnImageFeaturizer.*</c> packages): a
/// headless model, optionally preceded by a preprocessing graph that MLTransfer joins in front of it.
/// </summary>
public sealed record BackbonePackage
{
    /// <summary>Package id, e.g. <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c>.</summary>
    public required string Id { get; init; }
    /// <summary>Exact package version, e.g. <c>0.23.1</c>.</summary>
    public required string Version { get; init; }
    /// <summary>Short human name used in messages, e.g. <c>ML.NET's ResNet-18</c>.</summary>
    public string? Title { get; init; }
    /// <summary>The backbone model inside the package.</summary>
    public required BackbonePackageFile Model { get; init; }
    /// <summary>A graph run before <see cref="Model"/> (its output feeds the model's input), or null.</summary>
    public BackbonePackageFile? Preprocess { get; init; }
}

/// <summary>One file inside a backbone package, with the checksum it must have.</summary>
/// <param name="Path">Path inside the package, with forward slashes, e.g. <c>tools/DnnImageModels/ResNet18Onnx/ResNet18.onnx</c>.</param>
/// <param name="Sha256">Lower-case hex SHA-256 of the file.</param>
/// <param name="SizeBytes">Size of the file in bytes.</param>
public sealed record BackbonePackageFile(string Path, string Sha256, long SizeBytes);
