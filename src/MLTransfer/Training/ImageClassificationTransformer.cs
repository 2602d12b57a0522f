using System.Reflection;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLTransfer.Export;

namespace MLTransfer.Training;

/// <summary>
/// A fitted <see cref="ImageClassificationEstimator"/>: the stock ML.NET scoring chain, and what the fit did
/// (<see cref="Summary"/>). It saves as that chain, so the zip loads anywhere with plain <c>Model.Load</c>,
/// plus MLTransfer's metadata entry (ignored by ML.NET), which makes the zip one that MLTransfer's tools
/// and <see cref="Inference.ImageClassifier"/> load too; the summary travels with the model in memory.
/// </summary>
public sealed class ImageClassificationTransformer : ITransformer, IDisposable
{
    private readonly ITransformer _chain;

    internal ImageClassificationTransformer(ITransformer chain, ImageClassificationSummary summary, byte[] headOnnx, ModelMetadata metadata)
    {
        _chain = chain;
        Summary = summary;
        HeadOnnx = headOnnx;
        Metadata = metadata;
    }

    /// <summary>The facts saved with the model (classes, backbone, input column, validation metrics).</summary>
    internal ModelMetadata Metadata { get; }

    /// <summary>What the fit did: epoch curve, chosen L2, validation and cross-validation metrics, counts.</summary>
    public ImageClassificationSummary Summary { get; }

    /// <summary>The trained head as an ONNX graph (input <c>mltransfer_features</c>), as the chain runs it.</summary>
    internal byte[] HeadOnnx { get; }

    /// <inheritdoc />
    public bool IsRowToRowMapper => _chain.IsRowToRowMapper;

    /// <inheritdoc />
    public DataViewSchema GetOutputSchema(DataViewSchema inputSchema) => _chain.GetOutputSchema(inputSchema);

    /// <inheritdoc />
    public IRowToRowMapper GetRowToRowMapper(DataViewSchema inputSchema) => _chain.GetRowToRowMapper(inputSchema);

    /// <inheritdoc />
    public IDataView Transform(IDataView input) => _chain.Transform(input);

    /// <inheritdoc />
    void ICanSaveModel.Save(ModelSaveContext ctx)
    {
        _chain.Save(ctx);
        // Beside the chain's own entries, in the folder ML.NET gives this step; loaders of the chain ignore it.
        var json = JsonSerializer.SerializeToUtf8Bytes(Metadata, ModelPackage.JsonOptions);
        // ML.NET keeps the writer of extra entries internal (its own transformers use it); a test fails if it goes.
        var save = typeof(ModelSaveContext).GetMethod("SaveBinaryStream", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public,
            [typeof(string), typeof(Action<BinaryWriter>)])
            ?? throw new MLTransferException($"This ML.NET version ({typeof(MLContext).Assembly.GetName().Version}) cannot store MLTransfer's metadata in a model zip",
                null, "Use the ML.NET version MLTransfer was built with (see the package's dependencies)");
        save.Invoke(ctx, [ModelPackage.MetadataEntry, (Action<BinaryWriter>)(w => w.Write(json))]);
    }

    /// <summary>Releases the ONNX sessions (and ML.NET's temporary copies of the graphs).</summary>
    public void Dispose() => (_chain as IDisposable)?.Dispose();
}
