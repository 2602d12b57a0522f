using MLTransfer.Backbones;
using MLTransfer.Features;
using MLTransfer.Training;

namespace MLTransfer.FineTuning;

/// <summary>
/// A fine-tuned model: the standard saved-model chain (prepared backbone with the trained weights written
/// back, then the head), the fine-tuning report, and in-memory scoring to check the saved zip against.
/// </summary>
public sealed class FineTuningResult : IDisposable
{
    private readonly PreparedBackbone _frozenPart;
    private readonly TrainableNetwork _network;
    private readonly Microsoft.ML.ITransformer _head;
    private readonly int[] _cutShape;

    internal FineTuningResult(TrainedModel model, FineTuningReport report, PreparedBackbone backbone, PreparedBackbone frozenPart,
        TrainableNetwork network, Microsoft.ML.ITransformer head, int[] cutShape)
    {
        Model = model;
        Report = report;
        Backbone = backbone;
        _frozenPart = frozenPart;
        _network = network;
        _head = head;
        _cutShape = cutShape;
    }

    /// <summary>The model to save (<see cref="TrainedModel.Save"/>), with the usual training report of the final model.</summary>
    public TrainedModel Model { get; }
    /// <summary>Cut, curves, and frozen vs fine-tuned scores.</summary>
    public FineTuningReport Report { get; }
    /// <summary>The fine-tuned prepared backbone (a normal prepared graph with updated initializers).</summary>
    public PreparedBackbone Backbone { get; }

    /// <summary>
    /// Class probabilities computed the way training computed them: the frozen part in ONNX Runtime, the
    /// trained layers in the fine-tuning engine, then the head. A saved model must agree with this.
    /// </summary>
    public float[][] Score(IReadOnlyList<string> imagePaths)
    {
        using var session = new BackboneSession(_frozenPart);
        var cut = FeatureExtractor.Extract(imagePaths, session);
        var missing = imagePaths.Where(p => !cut.Features.ContainsKey(p)).ToList();
        if (missing.Count > 0)
            throw new MLTransferException($"Could not read {missing.Count} image(s): {string.Join(", ", cut.Skipped.Select(s => $"{s.Path}: {s.Reason}"))}", missing[0], "Pass readable image files");
        var features = FineTuner.Features(_network, imagePaths.Select(p => cut.Features[p]).ToList(), _cutShape);
        return HeadTrainer.Score(Model.Context, _head, features);
    }

    /// <inheritdoc />
    public void Dispose() => Model.Dispose();
}
