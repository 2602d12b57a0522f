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
    private readonly string _tempDir;

    internal TrainedModel(MLContext ml, ITransformer model, ModelMetadata metadata, TrainingReport report, string tempDir)
    {
        Context = ml;
        Model = model;
        Metadata = metadata;
        Report = report;
        _tempDir = tempDir;
    }

    /// <summary>The ML.NET context the model was built in.</summary>
    public MLContext Context { get; }
    /// <summary>The full chain: <c>Image</c> (MLImage) → <c>Score</c>, <c>PredictedLabel</c>.</summary>
    public ITransformer Model { get; }
    /// <summary>Facts saved with the model.</summary>
    public ModelMetadata Metadata { get; }
    /// <summary>What the run did and how well the model scored.</summary>
    public TrainingReport Report { get; }

    /// <summary>Writes the model zip atomically (see <see cref="ModelPackage.Save"/>).</summary>
    public void Save(string path) => ModelPackage.Save(Context, Model, Metadata, path);

    /// <inheritdoc />
    public void Dispose()
    {
        (Model as IDisposable)?.Dispose();
        try { Directory.Delete(_tempDir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
