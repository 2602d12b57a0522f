using Microsoft.ML;
using Microsoft.ML.Data;

namespace MLTransfer.Training;

/// <summary>
/// A fitted <see cref="ImageClassificationEstimator"/>: the stock ML.NET scoring chain, and what the fit did
/// (<see cref="Summary"/>). It saves as that chain, so the zip loads anywhere with plain <c>Model.Load</c>;
/// the summary travels with the model in memory instead of living on the estimator.
/// </summary>
public sealed class ImageClassificationTransformer : ITransformer, IDisposable
{
    private readonly ITransformer _chain;

    internal ImageClassificationTransformer(ITransformer chain, ImageClassificationSummary summary, byte[] headOnnx)
    {
        _chain = chain;
        Summary = summary;
        HeadOnnx = headOnnx;
    }

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
    void ICanSaveModel.Save(ModelSaveContext ctx) => _chain.Save(ctx);

    /// <summary>Releases the ONNX sessions (and ML.NET's temporary copies of the graphs).</summary>
    public void Dispose() => (_chain as IDisposable)?.Dispose();
}
