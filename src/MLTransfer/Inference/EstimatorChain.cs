using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Microsoft.ML.Transforms.Image;
using MLTransfer.Export;
using MLTransfer.Images;
using MLTransfer.Training;

namespace MLTransfer.Inference;

/// <summary>
/// Serves a zip saved from a pipeline with TransferImageClassification through <see cref="ImageClassifier"/>:
/// the scoring part of the saved chain (from its resize on), fed the image decoded as the chain's first step
/// decodes it, so predictions equal what a plain <c>Model.Load</c> app gets from the same file.
/// </summary>
internal static class EstimatorChain
{
    /// <summary>The column the scoring part reads: the decoded image, at any size.</summary>
    public const string ImageColumn = ImageBytesDecoding.OutputColumn;

    /// <summary>
    /// The TransferImageClassification steps of <paramref name="model"/> after the image decoding (other steps
    /// of the user's pipeline, such as the label's MapValueToKey, need columns a prediction does not have).
    /// </summary>
    /// <exception cref="MLTransferException">The chain has no such steps, or scores into another column than <c>Score</c>.</exception>
    public static ITransformer ScoringPart(ITransformer model, ModelMetadata metadata, string path)
    {
        if (metadata.ScoreColumn != "Score")
            throw new MLTransferException($"The model's scores are in column '{metadata.ScoreColumn}'; MLTransfer's tools read 'Score'", path,
                "Keep ScoreColumnName at its default in the TransferImageClassification options, or score the zip with mlContext.Model.Load");
        foreach (var chain in Chains(model))
        {
            var steps = chain.ToList();
            var resize = steps.FindIndex(t => t is ImageResizingTransformer);
            if (resize > 0 && DecodesTheImage(steps[resize - 1]))
            {
                // The chain's last step drops its temporary columns, some of which the decoding step made.
                var end = steps[^1] is ColumnSelectingTransformer ? steps.Count - 1 : steps.Count;
                return new TransformerChain<ITransformer>([.. steps.Take(end).Skip(resize)]);
            }
        }
        throw new MLTransferException("The zip carries TransferImageClassification metadata but its chain has no TransferImageClassification steps", path,
            "The zip was altered or assembled by hand; save the fitted pipeline again with mlContext.Model.Save");
    }

    /// <summary>Decodes encoded bytes as the saved chain's first step does.</summary>
    /// <exception cref="ImageDecodeException">Not a usable image.</exception>
    public static DecodedImage Decode(ModelInputKind kind, byte[] encoded, ImageDecodeOptions options, string? source) => kind == ModelInputKind.ImageBytes
        ? ImageDecoder.DecodeUpright(encoded, options, source)
        : MLNetImageLoading.Decode(encoded, options, source);

    /// <summary>The step TransferImageClassification puts first: LoadImages, or the bytes decoder (a chain ending in a CustomMapping).</summary>
    private static bool DecodesTheImage(ITransformer step) => step switch
    {
        ImageLoadingTransformer => true,
        IEnumerable<ITransformer> chain => chain.LastOrDefault() is { } last && DecodesTheImage(last),
        _ => step.GetType().Name.StartsWith("CustomMappingTransformer", StringComparison.Ordinal),
    };

    private static IEnumerable<IEnumerable<ITransformer>> Chains(ITransformer t)
    {
        if (t is not IEnumerable<ITransformer> chain)
            yield break;
        yield return chain;
        foreach (var inner in chain.SelectMany(Chains))
            yield return inner;
    }
}
