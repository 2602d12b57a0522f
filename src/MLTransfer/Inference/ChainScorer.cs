using System.Collections.Concurrent;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLTransfer.Images;

namespace MLTransfer.Inference;

/// <summary>
/// Scores with a saved ML.NET chain (the scoring part of a TransferImageClassification pipeline, see
/// <see cref="EstimatorChain"/>), so a zip from <c>mlContext.Model.Save</c> answers exactly as a plain
/// <c>Model.Load</c> app's does: its resize is ML.NET's, which the fused graph cannot run. ML.NET's
/// PredictionEngine is not thread-safe, so each call borrows one from a pool.
/// </summary>
internal sealed class ChainScorer : IImageScorer
{
    private sealed class Input
    {
        // The attribute registers MLImage as an image column; the actual size is set per model below.
        [ImageType(1, 1)]
        public MLImage? Image { get; set; }
    }

    private sealed class Output
    {
        public float[] Score { get; set; } = [];
    }

    private readonly MLContext _ml;
    private readonly ITransformer _loaded;
    private readonly ITransformer _model;
    private readonly SchemaDefinition _inputSchema;
    private readonly ConcurrentBag<PredictionEngine<Input, Output>> _pool = new();
    private int _disposed;

    /// <param name="ml">The context the chain was loaded in.</param>
    /// <param name="loaded">The model as loaded from the zip; disposed with this scorer.</param>
    /// <param name="model">The part of it that scores (from the decoded image on).</param>
    /// <param name="inputSchema">The chain's input: one image column (see <see cref="ImageClassifier"/>'s check).</param>
    public ChainScorer(MLContext ml, ITransformer loaded, ITransformer model, SchemaDefinition inputSchema) =>
        (_ml, _loaded, _model, _inputSchema) = (ml, loaded, model, inputSchema);

    /// <summary>The input schema of a chain that reads images of <paramref name="width"/> × <paramref name="height"/> from <paramref name="column"/>.</summary>
    public static SchemaDefinition InputSchema(int width, int height, string column)
    {
        var schema = SchemaDefinition.Create(typeof(Input));
        // ML.NET only builds getters for image types registered for MLImage; register this size first.
        new ImageTypeAttribute(height, width).Register();
        schema[nameof(Input.Image)].ColumnType = new ImageDataViewType(height, width);
        schema[nameof(Input.Image)].ColumnName = column;
        return schema;
    }

    /// <summary>The schema of rows shaped by <paramref name="inputSchema"/>, for checking a chain before scoring with it.</summary>
    public static DataViewSchema Schema(MLContext ml, SchemaDefinition inputSchema) => ml.Data.LoadFromEnumerable(Array.Empty<Input>(), inputSchema).Schema;

    public FusedScore Score(DecodedImage image)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (!_pool.TryTake(out var engine))
            engine = _ml.Model.CreatePredictionEngine<Input, Output>(_model, inputSchemaDefinition: _inputSchema);
        try
        {
            using var mlImage = image.ToMLImage();
            return new FusedScore(engine.Predict(new Input { Image = mlImage }).Score.ToArray(), null);
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

    public FusedScore[] Score(IReadOnlyList<DecodedImage> images) => images.Select(Score).ToArray();

    /// <summary>Releases the engines and the chain (including ML.NET's temporary copy of the ONNX file).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        while (_pool.TryTake(out var engine))
            engine.Dispose();
        (_loaded as IDisposable)?.Dispose();
    }
}
