using MLTransfer.Images;

namespace MLTransfer.Inference.Hosting;

/// <summary>Options of <see cref="ReloadingImageClassifier"/> (and of <c>services.AddImageClassifier</c>).</summary>
public sealed class ImageClassifierOptions
{
    /// <summary>
    /// The classifier's name when an app serves several (set by <c>AddImageClassifier(name, ...)</c>): its meter is
    /// tagged <c>mltransfer.model</c> with it. Null for an app's only classifier.
    /// </summary>
    public string? Name { get; set; }

    /// <summary>The model zip to serve. Required.</summary>
    public string ModelPath { get; set; } = "";

    /// <summary>Whether to watch <see cref="ModelPath"/> and load a new model when the file changes.</summary>
    public bool ReloadOnChange { get; set; } = true;

    /// <summary>
    /// Quiet time after the last change event before reloading. A copy over the file raises several events
    /// while it is half-written; waiting for them to stop avoids loading a torn file.
    /// </summary>
    public TimeSpan ReloadDebounce { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Decoder limits (pixels, bytes) applied to every image; null for the defaults.</summary>
    public ImageDecodeOptions? Decode { get; set; }

    /// <summary>
    /// Most bytes of decoded pixels in flight across concurrent predictions (see <see cref="DecodeBudget"/>);
    /// a prediction that does not fit throws <see cref="DecodeBudgetExceededException"/> at once. Null for no
    /// limit. The default lets one image of the default pixel limit through, or many ordinary ones.
    /// </summary>
    public long? DecodeBudgetBytes { get; set; } = DecodeBudget.DefaultCapacityBytes;
}
