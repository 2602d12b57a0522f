using Google.Protobuf;
using MLTransfer.Backbones.Onnx;

namespace MLTransfer.Cli.Benchmarks;

/// <summary>
/// Builds an untrained twin of a backbone: same graph, every float initializer replaced by seeded random
/// values of the same mean and spread. Training a head on its features shows what pretraining buys.
/// </summary>
public static class RandomBackbone
{
    /// <summary>Returns the ONNX model with re-initialised float weights.</summary>
    /// <param name="onnxBytes">The original model.</param>
    /// <param name="seed">Seed of the random values.</param>
    public static byte[] Randomize(byte[] onnxBytes, int seed)
    {
        var model = OnnxModelIO.Parse(onnxBytes);
        var random = new Random(seed);
        foreach (var tensor in model.Graph.Initializer)
        {
            if (tensor.DataType != (int)TensorProto.Types.DataType.Float)
                continue;
            var values = ReadFloats(tensor);
            if (values.Length == 0)
                continue;
            var fresh = Resample(values, random);
            tensor.FloatData.Clear();
            tensor.RawData = ByteString.CopyFrom(System.Runtime.InteropServices.MemoryMarshal.AsBytes(fresh.AsSpan()));
        }
        return OnnxModelIO.Serialize(model);
    }

    /// <summary>Gaussian values with the original mean and standard deviation; non-negative where the original was (variances, scales).</summary>
    private static float[] Resample(float[] values, Random random)
    {
        double mean = 0, square = 0;
        var nonNegative = true;
        foreach (var v in values)
        {
            mean += v;
            square += (double)v * v;
            nonNegative &= v >= 0;
        }
        mean /= values.Length;
        var std = Math.Sqrt(Math.Max(0, square / values.Length - mean * mean));
        var result = new float[values.Length];
        for (var i = 0; i < result.Length; i++)
        {
            // Box–Muller: the standard library has no Gaussian sampler.
            var u1 = 1.0 - random.NextDouble();
            var u2 = random.NextDouble();
            var g = Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
            var v = (float)(mean + std * g);
            result[i] = nonNegative ? Math.Abs(v) : v;
        }
        return result;
    }

    private static float[] ReadFloats(TensorProto tensor)
    {
        if (tensor.FloatData.Count > 0)
            return tensor.FloatData.ToArray();
        if (tensor.RawData.Length > 0)
            return System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(tensor.RawData.Span).ToArray();
        return [];
    }
}
