using System.Globalization;
using MLTransfer.Images;
using SkiaSharp;

namespace MLTransfer.Inference;

/// <summary>
/// The test prediction every loaded model must pass. A zip can load and still fail every request (scores
/// that do not match the class names, a graph that throws); a server that swapped such a model in turned
/// every <c>/predict</c> into a 500 while the old, working model was thrown away.
/// </summary>
internal static class ModelProbe
{
    private static readonly Lazy<byte[]> Picture = new(Draw);

    /// <summary>
    /// Decodes a generated picture and scores it, as <see cref="ImageClassifier.Predict(byte[], int, float)"/> does
    /// (but outside the decode budget, so a server busy with large images does not fail a reload), and checks
    /// the answer is one finite probability per class, summing to 1.
    /// </summary>
    /// <exception cref="MLTransferException">The model cannot be served; the message says why.</exception>
    public static void Check(ImageClassifier classifier, ImageDecodeOptions? decode, string path)
    {
        var problem = Problem(classifier, decode);
        if (problem is not null)
            throw new MLTransferException($"The model loaded but {problem}", path,
                "It would fail every prediction; use a model zip written by 'mltransfer train' or 'mltransfer finetune', unmodified");
    }

    private static string? Problem(ImageClassifier classifier, ImageDecodeOptions? decode)
    {
        var metadata = classifier.Metadata;
        var (w, h) = (metadata.Backbone.InputWidth, metadata.Backbone.InputHeight);
        // A server may refuse pictures as small as this one; that limit is for clients, not for the check.
        var options = (decode ?? ImageDecodeOptions.Default) is var d && d.MaxPixels < 64 * 64 ? d with { MaxPixels = 64 * 64 } : d;
        float[] scores;
        try
        {
            scores = classifier.Score(ImageDecoder.Decode(Picture.Value, w, h, metadata.Backbone.ResizeMode, options));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return $"its test prediction failed ({e.GetType().Name}: {e.Message.Split('\n')[0]})";
        }
        return ScoreProblem(scores, metadata.ClassNames.Count);
    }

    /// <summary>What is wrong with a test prediction's scores, or null when they are one probability per class.</summary>
    internal static string? ScoreProblem(float[] scores, int classes)
    {
        if (scores.Length != classes)
            return $"it gives {scores.Length} scores for {classes} class names";
        foreach (var p in scores)
            if (!float.IsFinite(p) || p < 0 || p > 1)
                return string.Create(CultureInfo.InvariantCulture, $"its test prediction has a probability of {p}");
        var sum = scores.Sum();
        if (Math.Abs(sum - 1) > 1e-3)
            return string.Create(CultureInfo.InvariantCulture, $"its test prediction's probabilities sum to {sum:G4}, not 1");
        return null;
    }

    /// <summary>A 64×64 PNG with colour and edges, so the backbone sees an ordinary picture rather than a flat one.</summary>
    private static byte[] Draw()
    {
        using var bitmap = new SKBitmap(new SKImageInfo(64, 64, SKColorType.Bgra8888, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(bitmap))
        {
            using var gradient = new SKPaint
            {
                Shader = SKShader.CreateLinearGradient(new SKPoint(0, 0), new SKPoint(64, 64), [SKColors.SkyBlue, SKColors.OrangeRed], SKShaderTileMode.Clamp),
            };
            canvas.DrawRect(0, 0, 64, 64, gradient);
            using var disc = new SKPaint { Color = SKColors.ForestGreen, IsAntialias = true };
            canvas.DrawCircle(40, 24, 14, disc);
        }
        using var image = SKImage.FromBitmap(bitmap);
        using var png = image.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }
}
