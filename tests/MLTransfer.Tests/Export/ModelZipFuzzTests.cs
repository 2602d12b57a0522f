using System.Diagnostics;
using System.Text.Json.Nodes;
using Google.Protobuf;
using MLTransfer.Inference;
using MLTransfer.Tests.Fixtures;
using MLTransfer.Tests.Service;
using MLTransfer.Training;
using NUnit.Framework;

namespace MLTransfer.Tests.Export;

/// <summary>
/// Fuzzes the model loader with damaged and altered copies of real model zips: random byte flips,
/// truncations and mutated metadata fields. Every case must end in a one-line <see cref="MLTransferException"/>
/// or in predictions equal to the original model's — never another exception, a hang, a wrong answer, or
/// runaway memory.
/// </summary>
public class ModelZipFuzzTests
{
    private const int Seed = 17;
    private string _dir = "";
    private string _tinyZip = "";

    [OneTimeSetUp]
    public void SetUp()
    {
        _dir = Directory.CreateTempSubdirectory("mlt-zipfuzz-").FullName;
        // A tiny backbone keeps each load cheap, so hundreds of cases run in seconds; the real MobileNet zip
        // gets a share of the cases too.
        var backbone = Path.Combine(_dir, "tiny.onnx");
        File.WriteAllBytes(backbone, OnnxFixtures.TinyResNet(TinyHead.Gemm, width: 8, size: 32).ToByteArray());
        using var model = TransferLearner.Train(ServiceModels.SamplesDir, new TransferLearningOptions
        {
            Backbone = new() { Name = backbone, Adjust = d => d with { InputWidth = 32, InputHeight = 32 } },
            Cache = new() { WorkspacePath = Path.Combine(_dir, "workspace") },
            Seed = 3,
        });
        _tinyZip = Path.Combine(_dir, "tiny.zip");
        model.Save(_tinyZip);
    }

    [OneTimeTearDown]
    public void TearDown() => Directory.Delete(_dir, true);

    [Test]
    public void DamagedAndAlteredZips_EndInAOneLineErrorOrTheSamePredictions()
    {
        var rng = new Random(Seed);
        var cases = new List<(string Name, Func<string, string> Make)>();
        void Flips(string zip, int count, string label)
        {
            for (var i = 0; i < count; i++)
            {
                var flips = 1 + rng.Next(3);
                var positions = Enumerable.Range(0, flips).Select(_ => rng.NextDouble()).ToArray();
                var values = Enumerable.Range(0, flips).Select(_ => (byte)(1 + rng.Next(255))).ToArray();
                // Half of the flips land in the last 4 KB, where the zip directory and the metadata live.
                var tail = rng.Next(2) == 0;
                cases.Add(($"{label} flip {i}", path =>
                {
                    var bytes = File.ReadAllBytes(zip);
                    for (var k = 0; k < flips; k++)
                    {
                        var at = tail ? bytes.Length - 1 - (int)(positions[k] * Math.Min(4096, bytes.Length)) : (int)(positions[k] * bytes.Length);
                        bytes[at] ^= values[k];
                    }
                    File.WriteAllBytes(path, bytes);
                    return path;
                }
                ));
            }
        }
        void Truncations(string zip, int count, string label)
        {
            for (var i = 0; i < count; i++)
            {
                var fraction = rng.NextDouble();
                cases.Add(($"{label} truncate {fraction:F4}", path =>
                {
                    var bytes = File.ReadAllBytes(zip);
                    File.WriteAllBytes(path, bytes[..(int)(fraction * bytes.Length)]);
                    return path;
                }
                ));
            }
        }
        void MetadataMutations(string zip, int count, string label)
        {
            var leaves = Leaves(BrokenModelZips.ReadMetadata(zip)).ToList();
            for (var i = 0; i < count; i++)
            {
                var leaf = leaves[rng.Next(leaves.Count)];
                var value = rng.Next(MutantValues.Length + 2);
                cases.Add(($"{label} metadata {leaf} <- {(value < MutantValues.Length ? MutantValues[value]?.ToJsonString() ?? "null" : value == MutantValues.Length ? "(deleted)" : "(swapped)")}", path =>
                {
                    File.Copy(zip, path, overwrite: true);
                    BrokenModelZips.EditMetadata(path, m => Mutate(m, leaf, value));
                    return path;
                }
                ));
            }
        }

        Flips(_tinyZip, 250, "tiny");
        Truncations(_tinyZip, 60, "tiny");
        MetadataMutations(_tinyZip, 200, "tiny");
        Flips(ServiceModels.First, 30, "mobilenet");
        Truncations(ServiceModels.First, 10, "mobilenet");
        MetadataMutations(ServiceModels.First, 20, "mobilenet");
        Assert.That(cases, Has.Count.GreaterThanOrEqualTo(500));

        var images = ServiceModels.SampleImages(3).Select(s => s.Path).ToList();
        var reference = new Dictionary<string, (IReadOnlyList<string> Classes, float[][] Scores)>();
        foreach (var zip in new[] { _tinyZip, ServiceModels.First })
        {
            using var c = ImageClassifier.Load(zip);
            reference[zip] = (c.ClassNames, images.Select(i => c.Predict(i).Probabilities.Select(p => p.Probability).ToArray()).ToArray());
        }

        using var memory = new PeakMemory();
        var clock = Stopwatch.StartNew();
        var outcomes = new Dictionary<string, int>();
        var failures = new List<string>();
        for (var n = 0; n < cases.Count; n++)
        {
            var (name, make) = cases[n];
            var source = name.StartsWith("tiny", StringComparison.Ordinal) ? _tinyZip : ServiceModels.First;
            var path = make(Path.Combine(_dir, "case.zip"));
            var run = Task.Run(() => Outcome(path, images, reference[source]));
            if (!run.Wait(TimeSpan.FromSeconds(60)))
            {
                failures.Add($"case {n} ({name}): no answer within 60 s");
                break;
            }
            var (kind, detail) = run.Result;
            outcomes[kind] = outcomes.GetValueOrDefault(kind) + 1;
            if (kind is not ("error" or "same predictions"))
                failures.Add($"case {n} ({name}): {kind}: {detail}");
        }
        var growth = memory.PeakGrowthMiB;
        TestContext.Out.WriteLine($"{cases.Count} cases in {clock.Elapsed.TotalSeconds:F1} s: {string.Join(", ", outcomes.Select(o => $"{o.Value} {o.Key}"))}; peak RSS growth {growth:F0} MiB");
        Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(20)));
        Assert.That(growth, Is.LessThan(1024), "peak memory growth in MiB");
        Assert.That(outcomes.GetValueOrDefault("same predictions"), Is.GreaterThan(0), "some mutations (informational fields) must still load and predict");
    }

    private static (string Kind, string Detail) Outcome(string path, IReadOnlyList<string> images, (IReadOnlyList<string> Classes, float[][] Scores) reference)
    {
        try
        {
            using var classifier = ImageClassifier.Load(path);
            if (!classifier.ClassNames.SequenceEqual(reference.Classes))
                return ("wrong classes", string.Join(",", classifier.ClassNames));
            for (var i = 0; i < images.Count; i++)
            {
                var scores = classifier.Predict(images[i]).Probabilities.Select(p => p.Probability).ToArray();
                var diff = scores.Zip(reference.Scores[i]).Max(p => Math.Abs(p.First - p.Second));
                if (scores.Length != reference.Scores[i].Length || diff > 1e-5)
                    return ("wrong prediction", $"image {i}: max difference {diff}");
            }
            return ("same predictions", "");
        }
        catch (MLTransferException e)
        {
            return e.Message.Contains('\n') || e.Message.Contains("   at ") ? ("multi-line error", e.Message) : ("error", e.Message);
        }
        catch (Exception e)
        {
            return ($"unexpected {e.GetType().Name}", e.ToString());
        }
    }

    /// <summary>Values a careless or hostile edit puts into a field.</summary>
    private static readonly JsonNode?[] MutantValues =
    [
        null, 0, -1, 1, 7, 192, 224, 100000, int.MaxValue, long.MaxValue, 1e300, -0.5, "", "x", "NaN", "Infinity", true, new JsonArray(),
        new JsonObject(), new JsonArray(1, 2), new JsonArray("a", "a"), new string('z', 5000), "Fill", "IsoCrop", "Bgr",
        "e9067399bf7adc64295ccf94083e12d44168dfc8c56aad2321029a8b47fbdf9b",
    ];

    private static IEnumerable<string> Leaves(JsonNode node, string path = "")
    {
        switch (node)
        {
            case JsonObject o:
                foreach (var (k, v) in o)
                {
                    yield return path + "/" + k;
                    if (v is not null)
                        foreach (var leaf in Leaves(v, path + "/" + k))
                            yield return leaf;
                }
                break;
            case JsonArray a:
                for (var i = 0; i < a.Count; i++)
                {
                    yield return path + "/" + i;
                    if (a[i] is { } item)
                        foreach (var leaf in Leaves(item, path + "/" + i))
                            yield return leaf;
                }
                break;
        }
    }

    private static void Mutate(JsonObject root, string leaf, int value)
    {
        var parts = leaf.Trim('/').Split('/');
        JsonNode parent = root;
        foreach (var p in parts[..^1])
            parent = parent is JsonArray arr ? arr[int.Parse(p)]! : parent[p]!;
        var last = parts[^1];
        if (value == MutantValues.Length)
        {
            if (parent is JsonArray arr) arr.RemoveAt(int.Parse(last));
            else parent.AsObject().Remove(last);
            return;
        }
        if (value == MutantValues.Length + 1)
        {
            // Swap with a sibling: reorders class names, exchanges width and height, etc.
            if (parent is JsonArray arr && arr.Count > 1)
            {
                var i = int.Parse(last);
                var j = (i + 1) % arr.Count;
                var (a, b) = (arr[i]?.DeepClone(), arr[j]?.DeepClone());
                arr[i] = b;
                arr[j] = a;
            }
            else if (parent is JsonObject obj && obj.Count > 1)
            {
                var other = obj.Select(kv => kv.Key).First(k => k != last);
                var (a, b) = (obj[last]?.DeepClone(), obj[other]?.DeepClone());
                obj[last] = b;
                obj[other] = a;
            }
            return;
        }
        var node = MutantValues[value]?.DeepClone();
        if (parent is JsonArray array) array[int.Parse(last)] = node;
        else parent[last] = node;
    }

    /// <summary>Samples this process's resident memory until disposed.</summary>
    private sealed class PeakMemory : IDisposable
    {
        private readonly double _start = Rss();
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _sampler;
        private double _peak;

        public PeakMemory()
        {
            _peak = _start;
            _sampler = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    _peak = Math.Max(_peak, Rss());
                    try { await Task.Delay(10, _stop.Token); } catch (OperationCanceledException) { }
                }
            });
        }

        public double PeakGrowthMiB => Math.Max(_peak, Rss()) - _start;

        private static double Rss() => ProcessMemory.RssMiB();

        public void Dispose()
        {
            _stop.Cancel();
            _sampler.Wait();
        }
    }
}
