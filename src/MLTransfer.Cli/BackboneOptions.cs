using System.CommandLine;
using System.Globalization;
using MLTransfer.Backbones;
using MLTransfer.Images;

namespace MLTransfer.Cli;

/// <summary>The backbone flags shared by commands: which backbone, where to look, and preprocessing overrides for a custom ONNX file.</summary>
internal sealed class BackboneOptions
{
    private readonly Option<string?> _backbone = new("--backbone", "-b") { Description = "Catalog name (see 'mltransfer backbones list') or path to an ONNX image classifier [default: first catalog entry available locally, else ResNet-18 from the NuGet feeds]" };
    private readonly Option<string[]> _dirs = new("--backbone-dir") { Description = "Offline folder holding backbone files (repeatable; also MLTRANSFER_BACKBONE_DIR)", AllowMultipleArgumentsPerToken = false };
    private readonly Option<string?> _catalog = new("--catalog") { Description = "JSON file with extra backbone records" };
    private readonly Option<bool> _offline = new("--offline") { Description = "Never download a backbone" };
    private readonly Option<string?> _featureTensor = new("--feature-tensor") { Description = "Name of the feature tensor [default: input of the final classifier node]" };
    private readonly Option<int?> _inputSize = new("--input-size") { Description = "Input width and height of a custom backbone" };
    private readonly Option<string?> _resize = new("--resize") { Description = "fill, isocrop or isopad" };
    private readonly Option<string?> _channels = new("--channel-order") { Description = "rgb or bgr" };
    private readonly Option<string?> _mean = new("--mean") { Description = "Per-channel mean on [0,1] pixels, e.g. 0.485,0.456,0.406" };
    private readonly Option<string?> _std = new("--std") { Description = "Per-channel std on [0,1] pixels, e.g. 0.229,0.224,0.225" };

    public static BackboneOptions Create() => new();

    /// <summary>The backbone file given on the command line, or null when a catalog name (or nothing) was given.</summary>
    public string? ExplicitFile(ParseResult parse) =>
        parse.GetValue(_backbone) is { } b && File.Exists(b) ? Path.GetFullPath(b) : null;

    public void AddTo(Command command)
    {
        _resize.AcceptOnlyFromAmong("fill", "isocrop", "isopad");
        _channels.AcceptOnlyFromAmong("rgb", "bgr");
        foreach (var o in new Option[] { _backbone, _dirs, _catalog, _offline, _featureTensor, _inputSize, _resize, _channels, _mean, _std })
            command.Options.Add(o);
    }

    /// <summary>Where the backbone comes from, as the flags say.</summary>
    public BackboneSource Source(ParseResult parse)
    {
        var featureTensor = parse.GetValue(_featureTensor);
        var size = parse.GetValue(_inputSize);
        var resize = parse.GetValue(_resize);
        var channels = parse.GetValue(_channels);
        var mean = Floats(parse.GetValue(_mean), "--mean");
        var std = Floats(parse.GetValue(_std), "--std");
        return new BackboneSource
        {
            Name = parse.GetValue(_backbone),
            Dirs = parse.GetValue(_dirs) ?? [],
            CatalogPath = parse.GetValue(_catalog),
            AllowDownload = !parse.GetValue(_offline),
            Adjust = d => d with
            {
                FeatureTensor = featureTensor ?? d.FeatureTensor,
                InputWidth = size ?? d.InputWidth,
                InputHeight = size ?? d.InputHeight,
                ResizeMode = resize is null ? d.ResizeMode : Enum.Parse<ResizeMode>(resize, ignoreCase: true),
                ChannelOrder = channels is null ? d.ChannelOrder : Enum.Parse<ChannelOrder>(channels, ignoreCase: true),
                Mean = mean ?? d.Mean,
                Std = std ?? d.Std,
            },
        };
    }

    private static float[]? Floats(string? text, string flag)
    {
        if (text is null)
            return null;
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length != 3 || !parts.All(p => float.TryParse(p, NumberStyles.Float, CultureInfo.InvariantCulture, out _)))
            throw new MLTransferException($"{flag} needs three comma-separated numbers, got '{text}'", null, $"Example: {flag} 0.5,0.5,0.5");
        return parts.Select(p => float.Parse(p, CultureInfo.InvariantCulture)).ToArray();
    }
}
