using MLTransfer.FeatureStore;

namespace MLTransfer.Cli.Benchmarks;

/// <summary>
/// Writes a feature folder of generated rows (class-dependent non-negative vectors, like pooled CNN
/// activations) for the head-training benchmark: nothing of this size is stored in the repository.
/// </summary>
internal static class SyntheticFeatures
{
    public static readonly FeatureSignature Signature = new("synthetic", new string('0', 64), "synthetic", "float32", 0);

    public static void Write(string folder, long rows, int width, int classes, int shards, int seed)
    {
        Directory.CreateDirectory(folder);
        var signature = Signature with { FeatureWidth = width };
        var centres = new float[classes][];
        var rng = new Random(seed);
        for (var c = 0; c < classes; c++)
            centres[c] = Enumerable.Range(0, width).Select(_ => (float)(rng.NextDouble() * 2)).ToArray();
        var perShard = (rows + shards - 1) / shards;
        var written = 0L;
        for (var s = 0; s < shards; s++)
        {
            var spec = new ShardSpec(s, shards);
            var path = Path.Combine(folder, spec.FileName);
            var count = Math.Min(perShard, rows - written);
            var temp = ProcessTemp.SiblingFor(path);
            using (var writer = new ShardWriter(temp, width))
            {
                for (var start = 0L; start < count; start += ShardSchema.RowGroupRows)
                {
                    var n = (int)Math.Min(ShardSchema.RowGroupRows, count - start);
                    var group = new Random(HashCode.Combine(seed, s, start));
                    var batch = new List<ShardRow>(n);
                    for (var i = 0; i < n; i++)
                    {
                        var label = group.Next(classes);
                        var features = new float[width];
                        for (var j = 0; j < width; j++)
                            features[j] = Math.Max(0f, centres[label][j] + (float)(group.NextDouble() * 3 - 1.5));
                        var id = written + start + i;
                        batch.Add(new ShardRow($"c{label}/{id:D9}.jpg", id.ToString("x64", System.Globalization.CultureInfo.InvariantCulture), $"c{label}", null, features));
                    }
                    writer.Write(batch);
                }
                writer.Complete(new ShardFacts(signature, spec, writer.Rows, "synthetic", folder, ShardFacts.CurrentToolVersion, []));
            }
            File.Move(temp, path, overwrite: true);
            using var stream = File.OpenRead(path);
            var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(stream));
            FeatureManifest.Register(folder, shards, signature, new ShardEntry(s, spec.FileName, count, 0, new FileInfo(path).Length, sha), CancellationToken.None);
            written += count;
        }
    }
}
