using System.Collections.Concurrent;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLTransfer.Export;
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
    private sealed class Output
    {
        public float[] Score { get; set; } = [];
    }

    private readonly MLContext _ml;
    private readonly ITransformer _loaded;
    private readonly ITransformer _model;
    private readonly SchemaDefinition _inputSchema;
    private readonly ConcurrentBag<PredictionEngine<ModelPipeline.ImageRow, Output>> _pool = new();
    private int _disposed;

    /// <param name="ml">The context the chain was loaded in.</param>
    /// <param name="loaded">The model as loaded from the zip; disposed with this scorer.</param>
    /// <param name="model">The part of it that scores (from the decoded image on).</param>
    /// <param name="inputSchema">The chain's input: one image column (<see cref="ModelPipeline.ImageSchema"/>).</param>
    public ChainScorer(MLContext ml, ITransformer loaded, ITransformer model, SchemaDefinition inputSchema) =>
        (_ml, _loaded, _model, _inputSchema) = (ml, loaded, model, inputSchema);

    public FusedScore Score(DecodedImage image)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (!_pool.TryTake(out var engine))
            engine = _ml.Model.CreatePredictionEngine<ModelPipeline.ImageRow, Output>(_model, inputSchemaDefinition: _inputSchema);
        try
        {
            using var mlImage = image.ToMLImage();
            return new FusedScore(engine.Predict(new ModelPipeline.ImageRow { Image = mlImage }).Score.ToArray(), null);
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
