using Microsoft.ML;
using MLTransfer.Export;

namespace MLTransfer.Training;

/// <summary>
/// A freshly trained model: the ML.NET transformer chain (image in, class scores out), its metadata and
/// the report of the run. Save it with <see cref="Save"/>; dispose it afterwards to delete the temporary
/// copy of the backbone graph ML.NET reads from.
/// </summary>
public sealed class TrainedModel : IDisposable
{
    internal TrainedModel(MLContext ml, ITransformer model, ModelMetadata metadata, TrainingReport report, IReadOnlyList<string> inputs)
    {
        Context = ml;
        Model = model;
        Metadata = metadata;
        Report = report;
        Inputs = inputs;
    }

    /// <summary>The ML.NET context the model was built in.</summary>
    public MLContext Context { get; }
    /// <summary>The full chain: <c>Image</c> (MLImage) → <c>Score</c>, <c>PredictedLabel</c>.</summary>
    public ITransformer Model { get; }
    /// <summary>Facts saved with the model.</summary>
    public ModelMetadata Metadata { get; }
    /// <summary>What the run did and how well the model scored.</summary>
    public TrainingReport Report { get; }

    /// <summary>The same model, its report listing the backbone candidates a selection considered.</summary>
    internal TrainedModel WithCandidates(IReadOnlyList<BackboneCandidate> candidates) =>
        new(Context, Model, Metadata, Report with { BackboneCandidates = candidates }, Inputs);

    /// <summary>The files and folders the run read (data folder or manifest and its images, backbone file); outputs never go there.</summary>
    public IReadOnlyList<string> Inputs { get; }

    /// <summary>
    /// Writes the model zip atomically (see <see cref="ModelPackage.Save"/>), after checking that the path is
    /// not one of the run's <see cref="Inputs"/> and not a file of another kind (see <see cref="OutputGuard"/>).
    /// </summary>
    /// <param name="path">The zip to write.</param>
    /// <param name="force">Replace an existing file even if it is not an MLTransfer model.</param>
    /// <exception cref="MLTransferException">The path is refused, or the folder cannot be written.</exception>
    public void Save(string path, bool force = false)
    {
        OutputGuard.Check(path, OutputKind.ModelZip, Inputs, force);
        ModelPackage.Save(Context, Model, Metadata, path);
    }

    /// <inheritdoc />
    public void Dispose() => (Model as IDisposable)?.Dispose();
}
