using Microsoft.ML;

namespace MLTransfer.Training;

/// <summary>
/// <c>mlContext.MulticlassClassification.Trainers.TransferImageClassification(...)</c>: image classification by
/// transfer learning on ONNX backbones, a TensorFlow-free counterpart of ML.NET Vision's <c>ImageClassification</c>.
/// </summary>
public static class ImageClassificationCatalog
{
    /// <summary>Trains an image classifier with default options.</summary>
    /// <param name="catalog">ML.NET's multiclass trainers catalog.</param>
    /// <param name="labelColumnName">Key-typed label column.</param>
    /// <param name="featureColumnName">Image column: file paths (text).</param>
    /// <param name="imageFolder">Folder relative paths are resolved against, or null.</param>
    /// <param name="backbone">Backbone name or ONNX file, or null for the default choice.</param>
    /// <param name="validationSet">Validation data, or null to hold out 15 % of the training data.</param>
    public static ImageClassificationEstimator TransferImageClassification(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        string labelColumnName = "Label", string featureColumnName = "Image", string? imageFolder = null, string? backbone = null, IDataView? validationSet = null) =>
        TransferImageClassification(catalog, new ImageClassificationEstimator.Options
        {
            LabelColumnName = labelColumnName,
            FeatureColumnName = featureColumnName,
            ImageFolder = imageFolder,
            Backbone = backbone,
            ValidationSet = validationSet,
        });

    /// <summary>Trains an image classifier with the given options.</summary>
    public static ImageClassificationEstimator TransferImageClassification(this MulticlassClassificationCatalog.MulticlassClassificationTrainers catalog,
        ImageClassificationEstimator.Options options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new ImageClassificationEstimator(options);
    }
}
