using MLTransfer.Export;
using MLTransfer.Images;

namespace MLTransfer.Inference;

/// <summary>
/// What an app predicts with: <see cref="ImageClassifier"/> (one model file), or the hot-reloading classifier that
/// <c>services.AddImageClassifier(...)</c> registers. Depend on this interface to swap in a fake in an app's tests.
/// Implementations are safe to call from many threads at once.
/// </summary>
public interface IImageClassifier
{
    /// <summary>What the model is: classes, backbone, training facts and metrics (of the model serving now).</summary>
    ModelMetadata Metadata { get; }

    /// <summary>Class names in score order.</summary>
    IReadOnlyList<string> ClassNames => Metadata.ClassNames;

    /// <summary>Predicts the class of an image file.</summary>
    /// <param name="imagePath">JPEG, PNG, BMP, GIF or WebP file.</param>
    /// <param name="topK">How many classes to list in <see cref="ImagePrediction.TopK"/>.</param>
    /// <param name="minConfidence">Abstain when the top probability is below this; out-of-domain images are abstained on whatever it is.</param>
    /// <exception cref="ImageDecodeException">The file is missing or not a usable image.</exception>
    ImagePrediction Predict(string imagePath, int topK = 3, float minConfidence = 0);

    /// <summary>Predicts the class of an encoded image.</summary>
    /// <param name="encodedImage">The image file's bytes.</param>
    /// <param name="topK">How many classes to list in <see cref="ImagePrediction.TopK"/>.</param>
    /// <param name="minConfidence">Abstain when the top probability is below this.</param>
    /// <exception cref="ImageDecodeException">Not a usable image.</exception>
    ImagePrediction Predict(byte[] encodedImage, int topK = 3, float minConfidence = 0);

    /// <summary>
    /// Predicts several encoded images with one model, running them through the network together. An image that
    /// cannot be decoded gets its reason in <see cref="BatchPrediction.Error"/>; the others are still answered.
    /// </summary>
    /// <param name="encodedImages">The images' file bytes.</param>
    /// <param name="topK">How many classes to list in each <see cref="ImagePrediction.TopK"/>.</param>
    /// <param name="minConfidence">Abstain when the top probability is below this.</param>
    /// <returns>One result per image, in order.</returns>
    IReadOnlyList<BatchPrediction> PredictBatch(IReadOnlyList<byte[]> encodedImages, int topK = 3, float minConfidence = 0);
}
