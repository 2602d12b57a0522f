using MLTransfer.Heads;

namespace MLTransfer.Tests.Heads;

/// <summary>Small synthetic feature sets: Gaussian blobs around random class centres.</summary>
internal static class HeadTestData
{
    public static HeadExamples Blobs(int perClass, int classes, int dims, double spread, int seed)
    {
        var random = new Random(seed);
        var centres = Enumerable.Range(0, classes).Select(_ => Enumerable.Range(0, dims).Select(_ => random.NextDouble() * 2).ToArray()).ToArray();
        // A second generator for the noise keeps the centres identical across calls with the same seed.
        var noise = new Random(seed * 7919 + perClass);
        var features = new List<float[]>();
        var labels = new List<int>();
        for (var c = 0; c < classes; c++)
            for (var i = 0; i < perClass; i++)
            {
                features.Add(centres[c].Select(m => (float)Math.Abs(m + spread * Normal(noise))).ToArray());
                labels.Add(c);
            }
        return new HeadExamples(features, labels);
    }

    private static double Normal(Random r) => Math.Sqrt(-2 * Math.Log(1 - r.NextDouble())) * Math.Cos(2 * Math.PI * r.NextDouble());
}
