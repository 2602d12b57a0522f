using MLTransfer.Images;

namespace MLTransfer.Inference;

/// <summary>What turns decoded images into class probabilities for <see cref="ImageClassifier"/>; safe for concurrent calls.</summary>
internal interface IImageScorer : IDisposable
{
    /// <summary>The answer for one decoded image.</summary>
    FusedScore Score(DecodedImage image);

    /// <summary>The answers for several decoded images, in order.</summary>
    FusedScore[] Score(IReadOnlyList<DecodedImage> images);
}
