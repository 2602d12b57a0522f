using System.Numerics.Tensors;

namespace MLTransfer.Confidence;

/// <summary>
/// The out-of-domain score: cosine distance from an image's backbone features to its k-th nearest training
/// image (features L2-normalised). Small for an image like those the model learned from; large for one from
/// another domain. Chosen by measurement over distances to class means, Mahalanobis distances and the top
/// probability (docs/design-notes.md): at a threshold that accepts 95% of in-domain validation images it let
/// through the fewest images of other datasets.
/// </summary>
internal sealed class NeighbourDistance
{
    /// <summary>Neighbours counted: the k of the k-th nearest (fewer when there are fewer reference images).</summary>
    public const int DefaultNeighbours = 10;

    /// <summary>Most reference images kept: beyond this, an evenly spread share of each class is kept (bounds the zip and the work per prediction).</summary>
    public const int MaxReferenceImages = 5000;

    private readonly float[] _reference;

    /// <summary>Wraps unit-length reference vectors, <c>count × featureSize</c>, row-major.</summary>
    /// <exception cref="ArgumentException">The array does not hold that many floats, or k is outside 1..count.</exception>
    public NeighbourDistance(float[] reference, int count, int featureSize, int neighbours)
    {
        if (count < 1 || featureSize < 1 || reference.Length != (long)count * featureSize)
            throw new ArgumentException($"Expected {count} × {featureSize} floats, got {reference.Length}.", nameof(reference));
        if (neighbours < 1 || neighbours > count)
            throw new ArgumentException($"Neighbours must be from 1 to {count}, not {neighbours}.", nameof(neighbours));
        (_reference, Count, FeatureSize, Neighbours) = (reference, count, featureSize, neighbours);
    }

    /// <summary>Number of reference vectors.</summary>
    public int Count { get; }
    /// <summary>Width of the feature vectors.</summary>
    public int FeatureSize { get; }
    /// <summary>Which neighbour's distance is the score (1 = the nearest).</summary>
    public int Neighbours { get; }
    /// <summary>The reference vectors, row-major, each unit length (or zero for an all-zero feature vector).</summary>
    public ReadOnlySpan<float> Reference => _reference;

    /// <summary>Reference vector <paramref name="i"/>.</summary>
    public ReadOnlySpan<float> Row(int i) => _reference.AsSpan(i * FeatureSize, FeatureSize);

    /// <summary>
    /// The reference set of <paramref name="features"/> (L2-normalised), at most <see cref="MaxReferenceImages"/>
    /// of them, each class keeping its share.
    /// </summary>
    public static NeighbourDistance Fit(IReadOnlyList<float[]> features, IReadOnlyList<int> labels, int neighbours = DefaultNeighbours)
    {
        if (features.Count == 0 || features.Count != labels.Count)
            throw new ArgumentException($"Need labelled features; got {features.Count} vectors and {labels.Count} labels.", nameof(features));
        var keep = Enumerable.Range(0, features.Count).ToList();
        if (keep.Count > MaxReferenceImages)
        {
            // Evenly spaced within each class, so the share of every class and the spread within it are kept.
            var fraction = (double)MaxReferenceImages / keep.Count;
            keep = keep.GroupBy(i => labels[i]).SelectMany(g =>
            {
                var members = g.ToList();
                var take = Math.Max(1, (int)Math.Floor(members.Count * fraction));
                return Enumerable.Range(0, take).Select(j => members[(int)((long)j * members.Count / take)]);
            }).Order().ToList();
        }
        var width = features[0].Length;
        var reference = new float[keep.Count * width];
        for (var r = 0; r < keep.Count; r++)
        {
            var source = features[keep[r]];
            var row = reference.AsSpan(r * width, width);
            var norm = TensorPrimitives.Norm(source);
            if (norm > 0)
                TensorPrimitives.Divide(source, norm, row);
        }
        return new NeighbourDistance(reference, keep.Count, width, Math.Min(neighbours, keep.Count));
    }

    /// <summary>
    /// 1 − the cosine similarity to the <see cref="Neighbours"/>-th most similar reference vector: 0 when that many
    /// reference images point the same way, up to 2 (1 for an all-zero or non-finite vector).
    /// </summary>
    /// <exception cref="ArgumentException">The vector is not <see cref="FeatureSize"/> wide.</exception>
    public float Score(ReadOnlySpan<float> features)
    {
        if (features.Length != FeatureSize)
            throw new ArgumentException($"Expected {FeatureSize} features, got {features.Length}.", nameof(features));
        var norm = TensorPrimitives.Norm(features);
        if (!(norm > 0) || !float.IsFinite(norm))
            return 1f;
        // The k largest similarities so far, in ascending order: top[0] is the k-th largest.
        Span<float> top = stackalloc float[Neighbours];
        top.Fill(float.NegativeInfinity);
        for (var i = 0; i < Count; i++)
        {
            var s = TensorPrimitives.Dot(features, Row(i));
            if (s <= top[0])
                continue;
            var j = 0;
            while (j + 1 < top.Length && top[j + 1] < s)
            {
                top[j] = top[j + 1];
                j++;
            }
            top[j] = s;
        }
        return 1f - top[0] / norm;
    }
}
