using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLTransfer.Backbones;
using MLTransfer.Heads;
using MLTransfer.Images;

namespace MLTransfer.Export;

/// <summary>
/// Builds the standard ML.NET chain that a saved model runs: image → resize → pixels → backbone (ONNX) →
/// head. Only stock ML.NET transforms are used, so any app with the ML.NET packages can load the zip.
/// </summary>
internal static class ModelPipeline
{
    /// <summary>Name of the model's input column: an <see cref="MLImage"/>.</summary>
    public const string ImageColumn = "Image";

    /// <summary>A row of the model's input: one image (see <see cref="ImageSchema"/> for its column).</summary>
    internal sealed class ImageRow
    {
        // The attribute registers MLImage as an image column; the actual size is set per backbone below.
        [ImageType(1, 1)]
        public MLImage? Image { get; set; }
    }

    /// <summary>
    /// Fits the feature part of the chain (no learning happens: every step is fixed by the backbone).
    /// </summary>
    /// <param name="ml">ML.NET context.</param>
    /// <param name="backbone">The prepared backbone.</param>
    /// <remarks>ML.NET keeps its own temporary copy of the graph (in the context's <c>TempFilePath</c>) until the model is disposed.</remarks>
    public static ITransformer FitFeaturizer(MLContext ml, PreparedBackbone backbone)
    {
        var d = backbone.Description;
        var estimator = ml.Transforms.ResizeImages(ImageColumn, backbone.InputWidth, backbone.InputHeight, ImageColumn, ToMLNet(d.ResizeMode))
            .Append(ml.Transforms.ExtractPixels(PreparedBackbone.InputName, ImageColumn,
                colorsToExtract: ImagePixelExtractingEstimator.ColorBits.Rgb,
                orderOfExtraction: d.ChannelOrder == ChannelOrder.Bgr ? ImagePixelExtractingEstimator.ColorsOrder.ABGR : ImagePixelExtractingEstimator.ColorsOrder.ARGB,
                interleavePixelColors: false))
            .Append(ml.Transforms.ApplyOnnxModel([PreparedBackbone.OutputName], [PreparedBackbone.InputName], new MemoryStream(backbone.OnnxBytes, writable: false)))
            .Append(ml.Transforms.CopyColumns(HeadTrainer.FeaturesColumn, PreparedBackbone.OutputName));
        return estimator.Fit(EmptyImages(ml, backbone.InputWidth, backbone.InputHeight));
    }

    /// <summary>
    /// <paramref name="model"/> with its <c>Score</c> at the calibrated <paramref name="temperature"/>, in stock ML.NET
    /// transforms, so every consumer of the zip (a plain <c>Model.Load</c> app included) gets the probabilities
    /// ImageClassifier and the exported ONNX give: softmax(z / T) is p^(1/T) renormalised,
    /// which an element-wise expression and an L1 normalisation compute without the logits. The label is unchanged.
    /// </summary>
    public static ITransformer WithTemperature(MLContext ml, ITransformer model, PreparedBackbone backbone, double temperature)
    {
        if (temperature == 1)
            return model;
        var power = (1 / temperature).ToString("0.#################", System.Globalization.CultureInfo.InvariantCulture);
        var tempered = ml.Transforms.Expression("Score", $"p => exp(ln(p) * {power})", "Score")
            .Append(ml.Transforms.NormalizeLpNorm("Score", norm: Microsoft.ML.Transforms.LpNormNormalizingEstimatorBase.NormFunction.L1, ensureZeroMean: false))
            .Fit(model.Transform(EmptyImages(ml, backbone.InputWidth, backbone.InputHeight)));
        return model.Append(tempered);
    }

    /// <summary>An empty data view with the model's input schema (an image column named <paramref name="column"/>).</summary>
    public static IDataView EmptyImages(MLContext ml, int width, int height, string column = ImageColumn) =>
        ml.Data.LoadFromEnumerable(Array.Empty<ImageRow>(), ImageSchema(width, height, column));

    /// <summary>How <see cref="ImageRow"/> maps to a chain's image column of <paramref name="width"/> × <paramref name="height"/>.</summary>
    public static SchemaDefinition ImageSchema(int width, int height, string column = ImageColumn)
    {
        var schema = SchemaDefinition.Create(typeof(ImageRow));
        // ML.NET only builds getters for image types registered for MLImage; register this size first.
        new ImageTypeAttribute(height, width).Register();
        schema[nameof(ImageRow.Image)].ColumnType = new ImageDataViewType(height, width);
        schema[nameof(ImageRow.Image)].ColumnName = column;
        return schema;
    }

    internal static ImageResizingEstimator.ResizingKind ToMLNet(ResizeMode mode) => mode switch
    {
        ResizeMode.IsoCrop => ImageResizingEstimator.ResizingKind.IsoCrop,
        ResizeMode.IsoPad => ImageResizingEstimator.ResizingKind.IsoPad,
        _ => ImageResizingEstimator.ResizingKind.Fill,
    };
}
