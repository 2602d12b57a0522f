using Microsoft.ML;
using MLTransfer.Confidence;
using MLTransfer.Training;

namespace MLTransfer.Tests.Fixtures;

/// <summary>The parts of a trained model's ML.NET chain that tests score with directly.</summary>
public static class TrainedChains
{
    /// <summary>
    /// The head (normaliser, trainer, key-to-value): the chain is [featurizer + head] for an uncalibrated model and
    /// [[featurizer + head], temperature] for a calibrated one.
    /// </summary>
    public static ITransformer Head(TrainedModel model)
    {
        var chain = (IEnumerable<ITransformer>)model.Model;
        var untempered = model.Metadata.Calibration is { Temperature: not 1.0 } ? (IEnumerable<ITransformer>)chain.First() : chain;
        return untempered.Last();
    }

    /// <summary>The head's probabilities for stored features, at the model's calibrated temperature (what the saved model answers).</summary>
    public static float[][] CalibratedHeadScores(TrainedModel model, IReadOnlyList<float[]> features)
    {
        var temperature = model.Metadata.Calibration?.Temperature ?? 1;
        return MLTransfer.Heads.HeadTrainer.Score(model.Context, Head(model), features).Select(p => TemperatureScaling.Apply(p, temperature)).ToArray();
    }
}
