namespace MLTransfer.Heads;

/// <summary>Feature vectors with their class indices, the input of <see cref="NeuralHeadTrainer"/>.</summary>
/// <param name="Features">Raw backbone features, one vector per example, all of one width.</param>
/// <param name="Labels">Class index per example, 0-based.</param>
internal sealed record HeadExamples(IReadOnlyList<float[]> Features, IReadOnlyList<int> Labels)
{
    /// <summary>Number of examples.</summary>
    public int Count => Features.Count;

    /// <summary>The examples at <paramref name="indices"/>.</summary>
    public HeadExamples Subset(IEnumerable<int> indices)
    {
        var list = indices.ToList();
        return new HeadExamples(list.Select(i => Features[i]).ToList(), list.Select(i => Labels[i]).ToList());
    }
}
