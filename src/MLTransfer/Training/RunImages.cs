using MLTransfer.Data;
using MLTransfer.Features;

namespace MLTransfer.Training;

/// <summary>The usable images of a run, by split, with their extracted vectors.</summary>
internal sealed record RunImages(
    IReadOnlyList<LabeledImage> Train,
    IReadOnlyList<LabeledImage> Validation,
    IReadOnlyList<LabeledImage> Test,
    IReadOnlyList<string> ClassNames,
    IReadOnlyDictionary<string, float[]> Vectors,
    FeatureExtractionResult Extraction,
    IReadOnlyList<string> Warnings)
{
    private readonly Dictionary<string, int> _classIndex = ClassNames.Select((c, i) => (c, i)).ToDictionary(t => t.c, t => t.i, StringComparer.Ordinal);

    /// <summary>Class index by name.</summary>
    public IReadOnlyDictionary<string, int> ClassIndex => _classIndex;

    /// <summary>Class index of each image.</summary>
    public int[] Labels(IEnumerable<LabeledImage> images) => images.Select(i => _classIndex[i.Label]).ToArray();

    /// <summary>Extracted vector of each image.</summary>
    public List<float[]> VectorsOf(IEnumerable<LabeledImage> images) => images.Select(i => Vectors[i.Path]).ToList();
}
