namespace MLTransfer.Inference;

/// <summary>One image of <see cref="IImageClassifier.PredictBatch"/>: its prediction, or why it has none.</summary>
/// <param name="Prediction">The answer, or null when the image could not be decoded.</param>
/// <param name="Error">Why the image could not be decoded, or null when it was answered.</param>
public sealed record BatchPrediction(ImagePrediction? Prediction, string? Error)
{
    /// <summary>Whether the image was answered (which is not the same as the model standing by the answer: see <see cref="ImagePrediction.IsConfident"/>).</summary>
    public bool Succeeded => Prediction is not null;
}
