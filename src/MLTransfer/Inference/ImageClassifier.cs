using Microsoft.ML;
using Microsoft.ML.Data;
using MLTransfer.Backbones.Onnx;
using MLTransfer.Export;
using MLTransfer.Images;
using MLTransfer.Inference.Hosting;

namespace MLTransfer.Inference;

/// <summary>
/// Loads a model zip and predicts. Safe to call from many threads at once: predictions run the zip's fused
/// graph (backbone, head and softmax in one ONNX graph, as <c>mltransfer export</c> writes it) in one ONNX
/// Runtime session.
/// </summary>
/// <example>
/// <code>
/// using var classifier = ImageClassifier.Load("models/flowers.zip");
/// var p = classifier.Predict("rose.jpg");
/// Console.WriteLine($"{p.Label} {p.Probability:P1}");
/// </code>
/// </example>
public sealed class ImageClassifier : IImageClassifier, IDisposable
{
    private readonly IImageScorer _scorer;
    private readonly ImageDecodeOptions _decode;
    private readonly DecodeBudget? _budget;
    // Null for a model saved without reference features (it has no out-of-domain score) or whose threshold could not be fitted.
    private readonly float? _outOfDomainThreshold;

    private ImageClassifier(IImageScorer scorer, ModelMetadata metadata, ImageDecodeOptions decode, DecodeBudget? budget)
    {
        _scorer = scorer;
        Metadata = metadata;
        _decode = decode;
        _budget = budget;
        _outOfDomainThreshold = metadata.Calibration is { Reference: not null } c ? (float?)c.OutOfDomainThreshold : null;
    }

    /// <summary>What the model is: classes, backbone, training facts and metrics.</summary>
    public ModelMetadata Metadata { get; }

    /// <summary>Class names in score order.</summary>
    public IReadOnlyList<string> ClassNames => Metadata.ClassNames;

    /// <summary>
    /// Loads a model zip written by MLTransfer (<c>train</c>, <c>finetune</c>, or <c>mlContext.Model.Save</c> of a
    /// pipeline with TransferImageClassification, whose images are then decoded as its chain decodes them). The zip is verified (see <see cref="ModelPackage.Load"/>), its
    /// chain's class names and score width are checked against the metadata, and one generated image is
    /// predicted, so a model that loads also answers.
    /// </summary>
    /// <param name="modelPath">The zip.</param>
    /// <param name="decode">Decoder limits, or null for the defaults.</param>
    /// <param name="decodeBudget">
    /// Shared limit on the memory of images being decoded at once (a server's), or null for none. With one,
    /// a prediction whose decode does not fit throws <see cref="DecodeBudgetExceededException"/>.
    /// </param>
    /// <exception cref="MLTransferException">Missing, damaged, truncated, altered or incompatible model file.</exception>
    public static ImageClassifier Load(string modelPath, ImageDecodeOptions? decode = null, DecodeBudget? decodeBudget = null) =>
        Load(modelPath, decode, decodeBudget, serving: false);

    /// <summary>Loads a model zip; <paramref name="serving"/> tunes ONNX Runtime for concurrent calls rather than lone ones.</summary>
    internal static ImageClassifier Load(string modelPath, ImageDecodeOptions? decode, DecodeBudget? decodeBudget, bool serving)
    {
        var (scorer, metadata) = OpenScorer(modelPath, serving);
        var classifier = new ImageClassifier(scorer, metadata, decode ?? ImageDecodeOptions.Default, decodeBudget);
        try
        {
            ModelProbe.Check(classifier, decode, modelPath);
            return classifier;
        }
        catch
        {
            classifier.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Loads the zip with ML.NET to verify it (the chain must score exactly the metadata's classes). A zip of
    /// <c>train</c> or <c>finetune</c> is then fused into one graph (backbone, head, temperature and out-of-domain
    /// score) and its ML.NET chain released; a TransferImageClassification zip keeps its chain, whose resize the
    /// fused graph cannot reproduce.
    /// </summary>
    private static (IImageScorer Scorer, ModelMetadata Metadata) OpenScorer(string path, bool serving)
    {
        var before = FileStamp.Of(path);
        var ml = ProcessTemp.NewMLContext();
        var (model, metadata, graphs) = ModelPackage.LoadWithGraphs(ml, path);
        var (width, height) = (metadata.Backbone.InputWidth, metadata.Backbone.InputHeight);
        if (metadata.InputKind != ModelInputKind.Image)
        {
            try
            {
                var scoring = EstimatorChain.ScoringPart(model, metadata, path);
                CheckChain(scoring, ModelPipeline.EmptyImages(ml, width, height, EstimatorChain.ImageColumn).Schema, metadata, path);
                return (new ChainScorer(ml, model, scoring, ModelPipeline.ImageSchema(width, height, EstimatorChain.ImageColumn)), metadata);
            }
            catch
            {
                (model as IDisposable)?.Dispose();
                throw;
            }
        }
        byte[] fused;
        try
        {
            CheckChain(model, ModelPipeline.EmptyImages(ml, width, height).Schema, metadata, path);
            fused = OnnxModelIO.Serialize(FusedOnnxExporter.Build(path, graphs, metadata, model));
        }
        finally
        {
            // Frees ML.NET's ONNX Runtime session of the backbone and its temporary copy of the graph.
            (model as IDisposable)?.Dispose();
        }
        // The chain and the graphs are two reads of the file; a writer in between could pair one model's head
        // with another's backbone.
        if (FileStamp.Of(path) != before)
            throw new MLTransferException("The model file changed while it was being loaded", path, "Load it again once it is completely written");
        try
        {
            var scorer = new FusedScorer(fused, width, height, metadata.ClassNames.Count, metadata.Backbone.ChannelOrder,
                serving);
            return (scorer, metadata);
        }
        catch (Microsoft.ML.OnnxRuntime.OnnxRuntimeException e)
        {
            throw new MLTransferException($"ONNX Runtime could not load the model's graph: {e.Message.Split('\n')[0]}", path,
                "The zip's backbone or head is damaged or uses operators this ONNX Runtime lacks; retrain it or copy it again", e);
        }
        finally
        {
            // A load leaves several copies of the graphs (zip entries, parsed and fused protobufs, the fused bytes)
            // on the large-object heap: tens of MB for MobileNet, hundreds for ResNet-50. They would wait for the
            // next full collection, which in a quiet server may not come for a long time; loads are rare, so collect now.
            fused = [];
            GC.Collect();
        }
    }

    /// <summary>The chain must take the image column and score exactly the metadata's classes, in its order.</summary>
    private static void CheckChain(ITransformer model, DataViewSchema input, ModelMetadata metadata, string path)
    {
        var classNames = metadata.ClassNames;
        DataViewSchema output;
        try
        {
            output = model.GetOutputSchema(input);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new MLTransferException($"The zip's ML.NET chain does not take an image column '{input[0].Name}': {e.Message.Split('\n')[0]}", path,
                "It is not a model written by 'mltransfer train' (its metadata may have been copied from one)");
        }
        var score = output.GetColumnOrNull("Score");
        if (score is not { Type: VectorDataViewType { Size: var width } vector } || vector.ItemType != NumberDataViewType.Single)
            throw Mismatch(path, "its chain has no 'Score' column of class probabilities");
        if (width != classNames.Count)
            throw Mismatch(path, $"its chain scores {width} classes but the metadata names {classNames.Count}");
        if (!score.Value.HasSlotNames())
            throw Mismatch(path, "its chain does not name the classes it scores");
        VBuffer<ReadOnlyMemory<char>> names = default;
        score.Value.GetSlotNames(ref names);
        var chainNames = names.DenseValues().Select(n => n.ToString()).ToList();
        if (!chainNames.SequenceEqual(classNames, StringComparer.Ordinal))
            throw Mismatch(path, $"the metadata names the classes {Quote(classNames)} but the chain scores {Quote(chainNames)}");
    }

    private static string Quote(IEnumerable<string> names)
    {
        var list = names.Take(6).ToList();
        var more = names.Count() - list.Count;
        return "[" + string.Join(", ", list) + (more > 0 ? $", … {more} more" : "") + "]";
    }

    private static MLTransferException Mismatch(string path, string detail) =>
        new($"The model's metadata does not match the model it describes: {detail}", path,
            "The zip was altered or assembled from different models; retrain it or copy the original again");

    /// <summary>Predicts the class of an image file.</summary>
    /// <param name="imagePath">JPEG, PNG, BMP, GIF or WebP file.</param>
    /// <param name="topK">How many classes to list in <see cref="ImagePrediction.TopK"/>.</param>
    /// <param name="minConfidence">
    /// Abstain (<see cref="ImagePrediction.IsConfident"/> false) when the top probability is below this; the model
    /// also abstains on images it judges out of domain, whatever this is.
    /// </param>
    /// <exception cref="ImageDecodeException">The file is missing or not a usable image.</exception>
    /// <exception cref="DecodeBudgetExceededException">The decode budget is full (only with one).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minConfidence"/> is outside [0, 1].</exception>
    public ImagePrediction Predict(string imagePath, int topK = 3, float minConfidence = 0) => _budget is null && Metadata.InputKind == ModelInputKind.Image
        ? Predict(ImageDecoder.DecodeFile(imagePath, Width, Height, Metadata.Backbone.ResizeMode, _decode), topK, minConfidence)
        : Predict(Decode(ImageDecoder.ReadFile(imagePath, _decode), imagePath), topK, minConfidence);

    /// <summary>Predicts the class of an encoded image.</summary>
    /// <param name="encodedImage">The image file's bytes.</param>
    /// <param name="topK">How many classes to list in <see cref="ImagePrediction.TopK"/>.</param>
    /// <param name="minConfidence">Abstain when the top probability is below this (see <see cref="Predict(string, int, float)"/>).</param>
    /// <exception cref="ImageDecodeException">Not a usable image.</exception>
    /// <exception cref="DecodeBudgetExceededException">The decode budget is full (only with one).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minConfidence"/> is outside [0, 1].</exception>
    public ImagePrediction Predict(byte[] encodedImage, int topK = 3, float minConfidence = 0) => Predict(Decode(encodedImage, null), topK, minConfidence);

    private DecodedImage Decode(byte[] encoded, string? source)
    {
        var mode = Metadata.Backbone.ResizeMode;
        // A TransferImageClassification chain resizes itself; it gets the image as its own first step decodes it.
        DecodedImage DecodeNow() => Metadata.InputKind == ModelInputKind.Image
            ? ImageDecoder.Decode(encoded, Width, Height, mode, _decode, source)
            : EstimatorChain.Decode(Metadata.InputKind, encoded, _decode, source);
        if (_budget is null)
            return DecodeNow();
        // Reserved before decoding and released before the model runs: the decoded pixels are what is large.
        using var _ = _budget.Reserve(ImageDecoder.EstimateDecodeBytes(encoded, Width, Height, mode, _decode));
        return DecodeNow();
    }

    /// <summary>Predicts the class of an encoded image read from a stream.</summary>
    /// <param name="encodedImage">The image file's bytes.</param>
    /// <param name="topK">How many classes to list in <see cref="ImagePrediction.TopK"/>.</param>
    /// <param name="minConfidence">Abstain when the top probability is below this (see <see cref="Predict(string, int, float)"/>).</param>
    public ImagePrediction Predict(Stream encodedImage, int topK = 3, float minConfidence = 0)
    {
        using var buffer = new MemoryStream();
        encodedImage.CopyTo(buffer);
        return Predict(buffer.ToArray(), topK, minConfidence);
    }

    /// <summary>Class probabilities (calibrated) for an image already decoded and sized by <see cref="ImageDecoder"/>.</summary>
    internal float[] Score(DecodedImage image) => _scorer.Score(image).Probabilities;

    /// <summary>Class probabilities for several decoded images, run together.</summary>
    internal float[][] ScoreBatch(IReadOnlyList<DecodedImage> images) => _scorer.Score(images).Select(s => s.Probabilities).ToArray();

    /// <inheritdoc/>
    /// <exception cref="DecodeBudgetExceededException">The decode budget is full (only with one).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minConfidence"/> is outside [0, 1].</exception>
    public IReadOnlyList<BatchPrediction> PredictBatch(IReadOnlyList<byte[]> encodedImages, int topK = 3, float minConfidence = 0)
    {
        ArgumentNullException.ThrowIfNull(encodedImages);
        ConfidenceGate.CheckMinConfidence(minConfidence);
        var results = new BatchPrediction[encodedImages.Count];
        // Decoded a run at a time, so a large batch never holds more than one run's pixels.
        for (var start = 0; start < encodedImages.Count; start += FusedScorer.MaxBatch)
        {
            var decoded = new List<(int Index, DecodedImage Image)>();
            for (var i = start; i < Math.Min(start + FusedScorer.MaxBatch, encodedImages.Count); i++)
            {
                try
                {
                    decoded.Add((i, Decode(encodedImages[i], null)));
                }
                catch (ImageDecodeException e)
                {
                    results[i] = new BatchPrediction(null, e.Reason);
                }
            }
            var scores = _scorer.Score(decoded.Select(d => d.Image).ToList());
            for (var j = 0; j < decoded.Count; j++)
                results[decoded[j].Index] = new BatchPrediction(Rank(scores[j], topK, minConfidence), null);
        }
        return results;
    }

    private ImagePrediction Predict(DecodedImage image, int topK, float minConfidence) => Rank(_scorer.Score(image), topK, minConfidence);

    private ImagePrediction Rank(FusedScore score, int topK, float minConfidence)
    {
        var (scores, outOfDomain) = score;
        var all = scores.Select((p, i) => new ClassProbability(ClassNames[i], p)).ToArray();
        // OrderByDescending is stable: equal probabilities keep class order.
        var ranked = all.OrderByDescending(c => c.Probability).ToArray();
        var prediction = new ImagePrediction(ranked[0].Label, ranked[0].Probability, all, ranked.Take(Math.Clamp(topK, 1, all.Length)).ToArray())
        {
            OutOfDomainScore = outOfDomain,
            OutOfDomainThreshold = _outOfDomainThreshold,
        };
        return ConfidenceGate.Verdict(prediction, minConfidence);
    }

    private int Width => Metadata.Backbone.InputWidth;
    private int Height => Metadata.Backbone.InputHeight;

    /// <summary>Releases the ONNX Runtime session (or ML.NET's chain).</summary>
    public void Dispose() => _scorer.Dispose();

    /// <summary>What identifies a file's content cheaply: its size and last write time.</summary>
    private readonly record struct FileStamp(long Length, DateTime LastWriteUtc)
    {
        public static FileStamp Of(string path)
        {
            var file = new FileInfo(path);
            return file.Exists ? new FileStamp(file.Length, file.LastWriteTimeUtc) : default;
        }
    }
}
