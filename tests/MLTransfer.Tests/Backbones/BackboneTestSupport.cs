using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLTransfer.Backbones;
using MLTransfer.Backbones.Onnx;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;
using SkiaSharp;

namespace MLTransfer.Tests.Backbones;

/// <summary>Shared pieces of the backbone tests: real models, real images, real ONNX Runtime runs.</summary>
internal static class BackboneTestSupport
{
    public static string MobileNetV2Path => TestPaths.SharedModel("mobilenet_v2_1.0_224.onnx");
    public static string MobileNetV1Path => TestPaths.SharedModel("mobilenet_v1_0.75_192.onnx");

    /// <summary>The MobileNet models want <c>pixel/127.5 - 1</c>, i.e. mean 0.5, std 0.5 on [0,1] pixels.</summary>
    public static BackboneDescription MobileNet(string file, int size, int? featureSize = null) => new()
    {
        Name = Path.GetFileNameWithoutExtension(file),
        FileName = file,
        InputWidth = size,
        InputHeight = size,
        Mean = [0.5f, 0.5f, 0.5f],
        Std = [0.5f, 0.5f, 0.5f],
        FeatureSize = featureSize,
    };

    public static BackboneDescription Tiny(int size = 32) => new()
    {
        Name = "tiny-resnet",
        FileName = "tiny_resnet.onnx",
        InputWidth = size,
        InputHeight = size,
    };

    public static byte[] ReadShared(string path)
    {
        if (!File.Exists(path))
            Assert.Fail($"Shared model missing: {path}");
        return File.ReadAllBytes(path);
    }

    /// <summary>Decodes a PNG into planar raw pixels 0..255, R plane then G then B.</summary>
    public static float[] PlanarRgb(string pngPath, out int width, out int height)
    {
        using var bitmap = SKBitmap.Decode(pngPath) ?? throw new InvalidOperationException($"Cannot decode {pngPath}");
        width = bitmap.Width;
        height = bitmap.Height;
        var plane = width * height;
        var pixels = new float[3 * plane];
        for (var y = 0; y < height; y++)
        {
            for (var x = 0; x < width; x++)
            {
                var c = bitmap.GetPixel(x, y);
                var i = y * width + x;
                pixels[i] = c.Red;
                pixels[plane + i] = c.Green;
                pixels[2 * plane + i] = c.Blue;
            }
        }
        return pixels;
    }

    /// <summary>Deterministic pseudo-random raw pixels 0..255 for <paramref name="batch"/> images.</summary>
    public static float[] RandomPixels(int batch, int height, int width, int seed)
    {
        var rng = new Random(seed);
        var data = new float[batch * 3 * height * width];
        for (var i = 0; i < data.Length; i++)
            data[i] = rng.Next(256);
        return data;
    }

    /// <summary>The reference normalisation, written out the slow obvious way in double precision.</summary>
    public static float[] Normalise(float[] raw, int batch, int height, int width, IReadOnlyList<float> mean, IReadOnlyList<float> std)
    {
        var plane = height * width;
        var result = new float[raw.Length];
        for (var i = 0; i < raw.Length; i++)
        {
            var c = i / plane % 3;
            result[i] = (float)((raw[i] / 255.0 - mean[c]) / std[c]);
        }
        return result;
    }

    /// <summary>Runs the prepared graph on raw pixels and returns the features and their shape.</summary>
    public static (float[] Values, int[] Shape) RunPrepared(PreparedBackbone prepared, float[] raw, int batch)
    {
        using var session = new InferenceSession(prepared.OnnxBytes);
        var input = new DenseTensor<float>(raw, [batch, 3, prepared.InputHeight, prepared.InputWidth]);
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(PreparedBackbone.InputName, input)]);
        var output = results.Single();
        Assert.That(output.Name, Is.EqualTo(PreparedBackbone.OutputName));
        var tensor = output.AsTensor<float>();
        return (tensor.ToArray(), tensor.Dimensions.ToArray());
    }

    /// <summary>
    /// Runs the ORIGINAL model on already-normalised input and fetches an inner tensor, by adding it to the
    /// graph outputs (ONNX Runtime can only fetch graph outputs). This is the reference the prepared graph is
    /// compared with.
    /// </summary>
    public static float[] RunOriginalTensor(byte[] originalBytes, string inputName, string tensorName, float[] normalised, int[] shape)
    {
        var model = ModelProto.Parser.ParseFrom(originalBytes);
        var declared = model.Graph.ValueInfo.FirstOrDefault(v => v.Name == tensorName);
        model.Graph.Output.Add(declared?.Clone() ?? new ValueInfoProto
        {
            Name = tensorName,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } },
        });
        using var session = new InferenceSession(model.ToByteArray());
        using var results = session.Run(
            [NamedOnnxValue.CreateFromTensor(inputName, new DenseTensor<float>(normalised, shape))],
            [tensorName]);
        return results.Single().AsTensor<float>().ToArray();
    }

    /// <summary>Largest absolute difference, after checking both arrays have the same length.</summary>
    public static double MaxAbsDiff(float[] a, float[] b)
    {
        Assert.That(a, Has.Length.EqualTo(b.Length), "arrays differ in length");
        double max = 0;
        for (var i = 0; i < a.Length; i++)
            max = Math.Max(max, Math.Abs((double)a[i] - b[i]));
        return max;
    }
}
