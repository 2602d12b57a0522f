using MLTransfer.Backbones;
using MLTransfer.Confidence;
using MLTransfer.Features;
using MLTransfer.Heads;
using MLTransfer.Training;

namespace MLTransfer.FineTuning;

/// <summary>
/// A fine-tuned model: the standard saved-model chain (prepared backbone with the trained weights written
/// back, then the head), the fine-tuning report, and in-memory scoring to check the saved zip against.
/// </summary>
public sealed class FineTuningResult : IDisposable
{
    private readonly (BackboneCut Cut, Microsoft.ML.ITransformer Head) _scoring;

    internal FineTuningResult(TrainedModel model, FineTuningReport report, PreparedBackbone backbone, BackboneCut cut, Microsoft.ML.ITransformer head)
    {
        (Model, Report, Backbone) = (model, report, backbone);
        _scoring = (cut, head);
    }

    /// <summary>The model to save (<see cref="TrainedModel.Save"/>), with the usual training report of the final model.</summary>
    public TrainedModel Model { get; }
    /// <summary>Cut, curves, and frozen vs fine-tuned scores.</summary>
    public FineTuningReport Report { get; }
    /// <summary>The fine-tuned prepared backbone (a normal prepared graph with updated initializers).</summary>
    internal PreparedBackbone Backbone { get; }

    /// <summary>
    /// Class probabilities computed the way training computed them: the frozen part in ONNX Runtime, the
    /// trained layers in the fine-tuning engine, then the head. A saved model must agree with this.
    /// </summary>
    public float[][] Score(IReadOnlyList<string> imagePaths)
    {
        using var session = new BackboneSession(_scoring.Cut.FrozenPart);
        var activations = FeatureExtractor.Extract(imagePaths, session);
        if (activations.Skipped.Count > 0)
            throw new MLTransferException($"Could not read {activations.Skipped.Count} image(s): {string.Join(", ", activations.Skipped.Select(s => $"{s.Path}: {s.Reason}"))}",
                activations.Skipped[0].Path, "Pass readable image files");
        var features = _scoring.Cut.Features(activations.Features.Select(f => f!).ToList());
        var scores = HeadTrainer.Score(Model.Context, _scoring.Head, features);
        // The saved model answers at its calibrated temperature; so does this.
        return Model.Metadata.Calibration is { Temperature: var t } && t != 1 ? scores.Select(p => TemperatureScaling.Apply(p, t)).ToArray() : scores;
    }

    /// <inheritdoc />
    public void Dispose() => Model.Dispose();
}
