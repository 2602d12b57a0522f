using System.Collections.Concurrent;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLTransfer.Export;
using MLTransfer.Images;
using MLTransfer.Inference.Hosting;

namespace MLTransfer.Inference;

/// <summary>
/// Loads a model zip and predicts. Safe to call from many threads at once: ML.NET's PredictionEngine is
/// not thread-safe, so each call borrows one from a pool and returns it.
/// </summary>
/// <example>
/// <code>
/// using var classifier = ImageClassifier.Load("models/flowers.zip");
/// var p = classifier.Predict("rose.jpg");
/// Console.WriteLine($"{p.Label} {p.Probability:P1}");
/// </code>
/// </example>
public sealed class ImageClassifier : IDisposable
{
    private sealed class Input
    {
        // The attribute registers MLImage as an image column; the actual size is set per backbone below.
        [ImageType(1, 1)]
        public MLImage? Image { get; set; }
    }

    private sealed class Output
    {
        public float[] Score { get; set; } = [];
    }

    private readonly MLContext _ml;
    private readonly ITransformer _model;
    private readonly SchemaDefinition _inputSchema;
    private readonly ConcurrentBag<PredictionEngine<Input, Output>> _pool = new();
    private readonly ImageDecodeOptions _decode;
    private readonly DecodeBudget? _budget;
    private int _disposed;

    private ImageClassifier(MLContext ml, ITransformer model, ModelMetadata metadata, ImageDecodeOptions decode, DecodeBudget? budget)
    {
        _ml = ml;
        _model = model;
        Metadata = metadata;
        _decode = decode;
        _budget = budget;
        _inputSchema = SchemaDefinition.Create(typeof(Input));
        // ML.NET only builds getters for image types registered for MLImage; register this size first.
        new ImageTypeAttribute(metadata.Backbone.InputHeight, metadata.Backbone.InputWidth).Register();
        _inputSchema[nameof(Input.Image)].ColumnType = new ImageDataViewType(metadata.Backbone.InputHeight, metadata.Backbone.InputWidth);
        if (metadata.InputKind != ModelInputKind.Image)
            _inputSchema[nameof(Input.Image)].ColumnName = EstimatorChain.ImageColumn;
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
    public static ImageClassifier Load(string modelPath, ImageDecodeOptions? decode = null, DecodeBudget? decodeBudget = null)
    {
        var ml = ProcessTemp.NewMLContext();
        var (model, metadata) = ModelPackage.Load(ml, modelPath);
        if (metadata.InputKind != ModelInputKind.Image)
            model = EstimatorChain.ScoringPart(model, metadata, modelPath);
        var classifier = new ImageClassifier(ml, model, metadata, decode ?? ImageDecodeOptions.Default, decodeBudget);
        try
        {
            classifier.CheckChain(modelPath);
            ModelProbe.Check(classifier, decode, modelPath);
            return classifier;
        }
        catch
        {
            classifier.Dispose();
            throw;
        }
    }

    /// <summary>The chain must take our image column and score exactly the metadata's classes, in its order.</summary>
    private void CheckChain(string path)
    {
        DataViewSchema output;
        try
        {
            output = _model.GetOutputSchema(InputSchema());
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new MLTransferException($"The zip's ML.NET chain does not take an image column '{ModelPipeline.ImageColumn}': {e.Message.Split('\n')[0]}", path,
                "It is not a model written by 'mltransfer train' (its metadata may have been copied from one)");
        }
        var score = output.GetColumnOrNull("Score");
        if (score is not { Type: VectorDataViewType { Size: var width } vector } || vector.ItemType != NumberDataViewType.Single)
            throw Mismatch(path, "its chain has no 'Score' column of class probabilities");
        if (width != ClassNames.Count)
            throw Mismatch(path, $"its chain scores {width} classes but the metadata names {ClassNames.Count}");
        if (!score.Value.HasSlotNames())
            throw Mismatch(path, "its chain does not name the classes it scores");
        VBuffer<ReadOnlyMemory<char>> names = default;
        score.Value.GetSlotNames(ref names);
        var chainNames = names.DenseValues().Select(n => n.ToString()).ToList();
        if (!chainNames.SequenceEqual(ClassNames, StringComparer.Ordinal))
            throw Mismatch(path, $"the metadata names the classes {Quote(ClassNames)} but the chain scores {Quote(chainNames)}");
    }

    private DataViewSchema InputSchema() => _ml.Data.LoadFromEnumerable(Array.Empty<Input>(), _inputSchema).Schema;

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
    /// <exception cref="ImageDecodeException">The file is missing or not a usable image.</exception>
    /// <exception cref="DecodeBudgetExceededException">The decode budget is full (only with one).</exception>
    public ImagePrediction Predict(string imagePath, int topK = 3) => _budget is null && Metadata.InputKind == ModelInputKind.Image
        ? Predict(ImageDecoder.DecodeFile(imagePath, Width, Height, Metadata.Backbone.ResizeMode, _decode), topK)
        : Predict(Decode(ImageDecoder.ReadFile(imagePath, _decode), imagePath), topK);

    /// <summary>Predicts the class of an encoded image.</summary>
    /// <exception cref="ImageDecodeException">Not a usable image.</exception>
    /// <exception cref="DecodeBudgetExceededException">The decode budget is full (only with one).</exception>
    public ImagePrediction Predict(byte[] encodedImage, int topK = 3) => Predict(Decode(encodedImage, null), topK);

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
    public ImagePrediction Predict(Stream encodedImage, int topK = 3)
    {
        using var buffer = new MemoryStream();
        encodedImage.CopyTo(buffer);
        return Predict(buffer.ToArray(), topK);
    }

    /// <summary>Class probabilities for an image already decoded and sized by <see cref="ImageDecoder"/>.</summary>
    internal float[] Score(DecodedImage image)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (!_pool.TryTake(out var engine))
            engine = _ml.Model.CreatePredictionEngine<Input, Output>(_model, inputSchemaDefinition: _inputSchema);
        try
        {
            using var mlImage = image.ToMLImage();
            return engine.Predict(new Input { Image = mlImage }).Score.ToArray();
        }
        finally
        {
            // An engine in use while Dispose ran would otherwise sit in the pool undisposed.
            if (Volatile.Read(ref _disposed) != 0)
                engine.Dispose();
            else
                _pool.Add(engine);
        }
    }

    private ImagePrediction Predict(DecodedImage image, int topK)
    {
        var scores = Score(image);
        var all = scores.Select((p, i) => new ClassProbability(ClassNames[i], p)).ToArray();
        // OrderByDescending is stable: equal probabilities keep class order.
        var ranked = all.OrderByDescending(c => c.Probability).ToArray();
        return new ImagePrediction(ranked[0].Label, ranked[0].Probability, all, ranked.Take(Math.Clamp(topK, 1, all.Length)).ToArray());
    }

    private int Width => Metadata.Backbone.InputWidth;
    private int Height => Metadata.Backbone.InputHeight;

    /// <summary>Releases the engines and the model (including ML.NET's temporary copy of the ONNX file).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        while (_pool.TryTake(out var engine))
            engine.Dispose();
        (_model as IDisposable)?.Dispose();
    }
}
