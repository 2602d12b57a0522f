using System.Collections.Concurrent;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLTransfer.Export;
using MLTransfer.Images;
using MLTransfer.Inference.Hosting;
using MLTransfer.Training;

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
    }

    /// <summary>What the model is: classes, backbone, training facts and metrics.</summary>
    public ModelMetadata Metadata { get; }

    /// <summary>Class names in score order.</summary>
    public IReadOnlyList<string> ClassNames => Metadata.ClassNames;

    /// <summary>Loads a model zip written by MLTransfer.</summary>
    /// <param name="modelPath">The zip.</param>
    /// <param name="decode">Decoder limits, or null for the defaults.</param>
    /// <param name="decodeBudget">
    /// Shared limit on the memory of images being decoded at once (a server's), or null for none. With one,
    /// a prediction whose decode does not fit throws <see cref="DecodeBudgetExceededException"/>.
    /// </param>
    /// <exception cref="MLTransferException">Missing, damaged, truncated or incompatible model file.</exception>
    public static ImageClassifier Load(string modelPath, ImageDecodeOptions? decode = null, DecodeBudget? decodeBudget = null)
    {
        var ml = new MLContext();
        var (model, metadata) = ModelPackage.Load(ml, modelPath);
        return new ImageClassifier(ml, model, metadata, decode ?? ImageDecodeOptions.Default, decodeBudget);
    }

    /// <summary>Predicts the class of an image file.</summary>
    /// <param name="imagePath">JPEG, PNG, BMP, GIF or WebP file.</param>
    /// <param name="topK">How many classes to list in <see cref="ImagePrediction.TopK"/>.</param>
    /// <exception cref="ImageDecodeException">The file is missing or not a usable image.</exception>
    /// <exception cref="DecodeBudgetExceededException">The decode budget is full (only with one).</exception>
    public ImagePrediction Predict(string imagePath, int topK = 3) => _budget is null
        ? Predict(ImageDecoder.DecodeFile(imagePath, Width, Height, Metadata.Backbone.ResizeMode, _decode), topK)
        : Predict(Decode(ImageDecoder.ReadFile(imagePath), imagePath), topK);

    /// <summary>Predicts the class of an encoded image.</summary>
    /// <exception cref="ImageDecodeException">Not a usable image.</exception>
    /// <exception cref="DecodeBudgetExceededException">The decode budget is full (only with one).</exception>
    public ImagePrediction Predict(byte[] encodedImage, int topK = 3) => Predict(Decode(encodedImage, null), topK);

    private DecodedImage Decode(byte[] encoded, string? source)
    {
        var mode = Metadata.Backbone.ResizeMode;
        if (_budget is null)
            return ImageDecoder.Decode(encoded, Width, Height, mode, _decode, source);
        // Reserved before decoding and released before the model runs: the decoded pixels are what is large.
        using var _ = _budget.Reserve(ImageDecoder.EstimateDecodeBytes(encoded, Width, Height, mode, _decode));
        return ImageDecoder.Decode(encoded, Width, Height, mode, _decode, source);
    }

    /// <summary>Predicts the class of an encoded image read from a stream.</summary>
    public ImagePrediction Predict(Stream encodedImage, int topK = 3)
    {
        using var buffer = new MemoryStream();
        encodedImage.CopyTo(buffer);
        return Predict(buffer.ToArray(), topK);
    }

    /// <summary>Class probabilities for an image already decoded and sized by <see cref="ImageDecoder"/>.</summary>
    public float[] Score(DecodedImage image)
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
        var ranked = all.OrderByDescending(c => c.Probability).ThenBy(c => Array.IndexOf(all, c)).ToArray();
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
