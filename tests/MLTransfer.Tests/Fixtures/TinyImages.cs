using MLTransfer.Backbones;
using MLTransfer.Training;
using SkiaSharp;

namespace MLTransfer.Tests.Fixtures;

/// <summary>
/// Small real images made in the test, and a random-weight 32×32 backbone to run them through, for tests that
/// need whole extraction or training runs to take well under a second per image set.
/// </summary>
internal static class TinyImages
{
    /// <summary>
    /// A <paramref name="size"/>×<paramref name="size"/> PNG: a flat colour for <paramref name="classIndex"/> plus
    /// seeded noise, so images of one class look alike and no two files have the same bytes.
    /// </summary>
    public static byte[] Png(int classIndex, int seed, int size = 24)
    {
        var rng = new Random(seed * 7919 + classIndex);
        var (r, g, b) = classIndex switch
        {
            0 => (220, 40, 40),
            1 => (40, 60, 220),
            2 => (40, 200, 60),
            _ => (200, 200, 40),
        };
        using var bitmap = new SKBitmap(new SKImageInfo(size, size, SKColorType.Bgra8888, SKAlphaType.Premul));
        for (var y = 0; y < size; y++)
            for (var x = 0; x < size; x++)
                bitmap.SetPixel(x, y, new SKColor(Jitter(r), Jitter(g), Jitter(b)));
        using var image = SKImage.FromBitmap(bitmap);
        using var data = image.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();

        byte Jitter(int v) => (byte)Math.Clamp(v + rng.Next(-30, 31), 0, 255);
    }

    /// <summary>Writes <paramref name="count"/> images of one class as <c>{folder}/{label}_{i}.png</c>; returns their paths.</summary>
    public static List<string> WriteClass(string folder, string label, int classIndex, int count, int firstSeed = 0)
    {
        Directory.CreateDirectory(folder);
        var paths = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var path = Path.Combine(folder, $"{label}_{i:D2}.png");
            File.WriteAllBytes(path, Png(classIndex, firstSeed + i));
            paths.Add(path);
        }
        return paths;
    }

    /// <summary>The description of the tiny backbone <see cref="WriteBackbone"/> writes.</summary>
    public static readonly BackboneDescription BackboneDescription = new()
    {
        Name = "tiny-resnet",
        FileName = "tiny_resnet.onnx",
        InputWidth = 32,
        InputHeight = 32,
    };

    /// <summary>Writes a tiny ResNet-style ONNX classifier (8-d features, 32×32 input) into <paramref name="folder"/>.</summary>
    public static string WriteBackbone(string folder)
    {
        Directory.CreateDirectory(folder);
        var file = Path.Combine(folder, "tiny_resnet.onnx");
        File.WriteAllBytes(file, OnnxFixtures.Bytes(OnnxFixtures.TinyResNet(width: 8, size: 32)));
        return file;
    }

    /// <summary>The tiny backbone, prepared in memory.</summary>
    public static PreparedBackbone PreparedBackbone() =>
        BackboneGraph.Prepare(OnnxFixtures.Bytes(OnnxFixtures.TinyResNet(width: 8, size: 32)), BackboneDescription);

    /// <summary>Training options that run the tiny backbone at <paramref name="backboneFile"/> offline, caching in <paramref name="workspace"/>.</summary>
    public static TransferLearningOptions TrainingOptions(string backboneFile, string workspace, Action<string>? log = null) => new()
    {
        Backbone = new() { Name = backboneFile, Adjust = d => d with { InputWidth = 32, InputHeight = 32 }, AllowDownload = false },
        Cache = new() { WorkspacePath = workspace },
        Log = log,
    };
}
