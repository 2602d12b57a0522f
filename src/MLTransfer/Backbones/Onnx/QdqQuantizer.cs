using System.Buffers.Binary;
using System.Globalization;
using Google.Protobuf;

namespace MLTransfer.Backbones.Onnx;

/// <summary>The observed range of one activation tensor over the calibration images.</summary>
internal readonly record struct TensorRange(float Min, float Max);

/// <summary>
/// Writes a statically quantized copy of a float graph in ONNX's QDQ form: every calibrated activation
/// passes through QuantizeLinear/DequantizeLinear (uint8, asymmetric, from its observed range), each
/// convolution's and Gemm's weights are stored as per-output-channel symmetric int8 with their scales, and
/// their biases as int32 at the input scale times the weight scale. ONNX Runtime recognises the
/// DequantizeLinear → Conv → QuantizeLinear groups and runs them with its integer kernels (QLinearConv,
/// QGemm, QLinearAdd; VNNI/AMX where the CPU has them); anything it cannot fuse runs in float between the
/// pairs, so the graph is always correct, only slower where a pattern is not fused.
/// </summary>
internal static class QdqQuantizer
{
    /// <summary>Operators whose inputs and outputs are calibrated: the ones ONNX Runtime has integer kernels or QDQ fusions for.</summary>
    private static readonly HashSet<string> Compute = ["Conv", "Gemm"];
    private static readonly HashSet<string> PassThrough = ["Add", "Relu", "Clip", "MaxPool"];

    /// <summary>
    /// The activation tensors to calibrate: inputs and outputs of convolutions and Gemms with constant
    /// weights, and the outputs of the elementwise and pooling operators between them. The graph's outputs
    /// stay float, so the features themselves are not rounded to 8 bits.
    /// </summary>
    public static IReadOnlyList<string> TensorsToCalibrate(ModelProto model)
    {
        var index = new OnnxGraphIndex(model.Graph);
        var outputs = model.Graph.Output.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        var names = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        void Add(string name)
        {
            if (name.Length > 0 && !index.IsConstant(name) && !outputs.Contains(name) && seen.Add(name))
                names.Add(name);
        }
        foreach (var node in model.Graph.Node.Where(OnnxGraphIndex.IsDefaultDomain))
        {
            if (Compute.Contains(node.OpType) && node.Input.Count >= 2 && index.Initializers.ContainsKey(node.Input[1]))
            {
                Add(node.Input[0]);
                Add(node.Output[0]);
            }
            else if (PassThrough.Contains(node.OpType))
            {
                if (node.OpType == "Add" && node.Input.All(i => !index.IsConstant(i)))
                    foreach (var input in node.Input)
                        Add(input);
                Add(node.Output[0]);
            }
        }
        return names;
    }

    /// <summary>The quantized copy of <paramref name="model"/> (which is not changed).</summary>
    /// <param name="model">A float graph, opset 13 or later.</param>
    /// <param name="ranges">Observed range of each tensor to quantize (from <see cref="TensorsToCalibrate"/>).</param>
    /// <param name="where">The file or backbone named in errors.</param>
    /// <exception cref="MLTransferException">The opset is too old for per-channel quantization, or a weight is not float.</exception>
    public static ModelProto Quantize(ModelProto model, IReadOnlyDictionary<string, TensorRange> ranges, string where)
    {
        var opset = model.OpsetImport.Where(o => o.Domain.Length == 0 || o.Domain == "ai.onnx").Select(o => o.Version).DefaultIfEmpty(0).Max();
        if (opset < 13)
            throw new MLTransferException(string.Create(CultureInfo.InvariantCulture,
                $"The backbone graph is opset {opset}; int8 quantization writes per-channel QuantizeLinear/DequantizeLinear, which need opset 13"), where,
                "Use a backbone exported with opset 13 or later for int8, or extract in float");
        var q = model.Clone();
        var graph = q.Graph;
        var index = new OnnxGraphIndex(graph);
        var taken = index.AllNames();
        var activations = new Dictionary<string, (float Scale, byte ZeroPoint, string Dequantized)>(StringComparer.Ordinal);
        foreach (var (name, range) in ranges.OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            var (scale, zeroPoint) = ActivationParameters(range);
            activations[name] = (scale, zeroPoint, OnnxShapes.Unique(taken, name + "_dq"));
        }

        var nodes = new List<NodeProto>();
        var quantizedCompute = 0;
        // Graph inputs that are quantized get their pair first; every other tensor's right after its producer.
        foreach (var input in graph.Input.Where(i => activations.ContainsKey(i.Name)))
            nodes.AddRange(Pair(input.Name));
        foreach (var node in graph.Node)
        {
            if (OnnxGraphIndex.IsDefaultDomain(node) && Compute.Contains(node.OpType) && node.Input.Count >= 2
                && index.Initializers.TryGetValue(node.Input[1], out var weight) && activations.TryGetValue(node.Input[0], out var x))
            {
                nodes.AddRange(QuantizeWeights(node, weight, x.Scale));
                quantizedCompute++;
            }
            for (var i = 0; i < node.Input.Count; i++)
                if (activations.TryGetValue(node.Input[i], out var a))
                    node.Input[i] = a.Dequantized;
            nodes.Add(node);
            foreach (var output in node.Output.Where(activations.ContainsKey))
                nodes.AddRange(Pair(output));
        }
        graph.Node.Clear();
        graph.Node.AddRange(nodes);
        // Float weights that only the quantized nodes read are dropped; the int8 copies replace them.
        var used = graph.Node.SelectMany(n => n.Input).ToHashSet(StringComparer.Ordinal);
        foreach (var dead in graph.Initializer.Where(t => !used.Contains(t.Name)).ToList())
            graph.Initializer.Remove(dead);
        foreach (var dead in graph.Input.Where(i => index.Initializers.ContainsKey(i.Name) && !used.Contains(i.Name)).ToList())
            graph.Input.Remove(dead);
        if (quantizedCompute == 0)
            throw new MLTransferException("No convolution or Gemm with constant weights was found to quantize", where, "Extract in float; this graph has nothing int8 kernels can run");
        return q;

        IEnumerable<NodeProto> Pair(string tensor)
        {
            var (scale, zeroPoint, dequantized) = activations[tensor];
            var scaleName = OnnxShapes.Unique(taken, tensor + "_scale");
            var zeroName = OnnxShapes.Unique(taken, tensor + "_zero_point");
            var quantized = OnnxShapes.Unique(taken, tensor + "_q");
            graph.Initializer.Add(OnnxShapes.FloatTensor(scaleName, [], [scale]));
            graph.Initializer.Add(Bytes(zeroName, TensorProto.Types.DataType.Uint8, [], [zeroPoint]));
            yield return Node("QuantizeLinear", OnnxShapes.Unique(taken, tensor + "_quantize"), [tensor, scaleName, zeroName], quantized);
            yield return Node("DequantizeLinear", OnnxShapes.Unique(taken, tensor + "_dequantize"), [quantized, scaleName, zeroName], dequantized);
        }

        IEnumerable<NodeProto> QuantizeWeights(NodeProto node, TensorProto weight, float inputScale)
        {
            var values = Floats(weight, where);
            var dims = weight.Dims.ToArray();
            // Conv weights are [O, I/g, kh, kw]; Gemm's B is [N, K] with transB=1, else [K, N].
            var axis = node.OpType == "Gemm" && OnnxShapes.IntAttr(node, "transB") is not 1 ? 1 : 0;
            var channels = (int)dims[axis];
            var inner = axis == 0 ? values.Length / channels : 1;
            var stride = axis == 0 ? 1 : channels;
            var scales = new float[channels];
            var q8 = new byte[values.Length];
            for (var c = 0; c < channels; c++)
            {
                var max = 0f;
                foreach (var k in Elements(c))
                    max = Math.Max(max, Math.Abs(values[k]));
                scales[c] = max > 0 ? max / 127f : 1f;
                foreach (var k in Elements(c))
                    q8[k] = (byte)(sbyte)Math.Clamp(MathF.Round(values[k] / scales[c], MidpointRounding.ToEven), -127, 127);
            }
            IEnumerable<int> Elements(int c) => axis == 0
                ? Enumerable.Range(c * inner, inner)
                : Enumerable.Range(0, values.Length / channels).Select(r => r * stride + c);

            var baseName = weight.Name;
            var qName = OnnxShapes.Unique(taken, baseName + "_int8");
            var scaleName = OnnxShapes.Unique(taken, baseName + "_scale");
            var zeroName = OnnxShapes.Unique(taken, baseName + "_zero_point");
            var dqName = OnnxShapes.Unique(taken, baseName + "_dq");
            graph.Initializer.Add(Bytes(qName, TensorProto.Types.DataType.Int8, dims, q8));
            graph.Initializer.Add(OnnxShapes.FloatTensor(scaleName, [channels], scales));
            graph.Initializer.Add(Bytes(zeroName, TensorProto.Types.DataType.Int8, [channels], new byte[channels]));
            var dq = Node("DequantizeLinear", OnnxShapes.Unique(taken, baseName + "_dequantize"), [qName, scaleName, zeroName], dqName);
            dq.Attribute.Add(OnnxShapes.IntAttribute("axis", axis));
            node.Input[1] = dqName;
            yield return dq;

            if (node.Input.Count >= 3 && node.Input[2].Length > 0 && index.Initializers.TryGetValue(node.Input[2], out var bias))
            {
                var b = Floats(bias, where);
                if (b.Length != channels)
                    yield break;
                var biasScales = scales.Select(s => s * inputScale).ToArray();
                var q32 = new byte[b.Length * 4];
                for (var c = 0; c < channels; c++)
                    BinaryPrimitives.WriteInt32LittleEndian(q32.AsSpan(c * 4),
                        (int)Math.Clamp(Math.Round(b[c] / (double)biasScales[c], MidpointRounding.ToEven), int.MinValue + 1, int.MaxValue));
                var bq = OnnxShapes.Unique(taken, bias.Name + "_int32");
                var bs = OnnxShapes.Unique(taken, bias.Name + "_scale");
                var bdq = OnnxShapes.Unique(taken, bias.Name + "_dq");
                graph.Initializer.Add(Bytes(bq, TensorProto.Types.DataType.Int32, [channels], q32));
                graph.Initializer.Add(OnnxShapes.FloatTensor(bs, [channels], biasScales));
                var bnode = Node("DequantizeLinear", OnnxShapes.Unique(taken, bias.Name + "_dequantize"), [bq, bs], bdq);
                bnode.Attribute.Add(OnnxShapes.IntAttribute("axis", 0));
                node.Input[2] = bdq;
                yield return bnode;
            }
        }
    }

    /// <summary>uint8 scale and zero point covering <paramref name="range"/> (widened to include 0, which must be exact).</summary>
    internal static (float Scale, byte ZeroPoint) ActivationParameters(TensorRange range)
    {
        var min = Math.Min(0f, float.IsFinite(range.Min) ? range.Min : 0f);
        var max = Math.Max(0f, float.IsFinite(range.Max) ? range.Max : 0f);
        if (max - min < 1e-8f)
            max = min + 1e-8f;
        var scale = (max - min) / 255f;
        var zero = (byte)Math.Clamp(MathF.Round(-min / scale, MidpointRounding.ToEven), 0, 255);
        return (scale, zero);
    }

    private static NodeProto Node(string op, string name, string[] inputs, string output)
    {
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        return node;
    }

    private static TensorProto Bytes(string name, TensorProto.Types.DataType type, long[] dims, byte[] raw)
    {
        var t = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(raw) };
        t.Dims.AddRange(dims);
        return t;
    }

    private static float[] Floats(TensorProto tensor, string where)
    {
        if (tensor.DataType != (int)TensorProto.Types.DataType.Float || tensor.ExternalData.Count > 0)
            throw new MLTransferException($"Weight '{tensor.Name}' is not a float32 tensor stored in the file; int8 quantization starts from float weights", where,
                "Use a float32, self-contained export of the backbone");
        var count = checked((int)tensor.Dims.Aggregate(1L, (a, d) => a * d));
        if (tensor.HasRawData)
        {
            var raw = tensor.RawData.Span;
            if (raw.Length != count * 4)
                throw new MLTransferException($"Weight '{tensor.Name}' has {raw.Length} bytes for {count} floats", where, "The model file is damaged");
            var values = new float[count];
            for (var i = 0; i < count; i++)
                values[i] = BinaryPrimitives.ReadSingleLittleEndian(raw.Slice(i * 4));
            return values;
        }
        if (tensor.FloatData.Count != count)
            throw new MLTransferException($"Weight '{tensor.Name}' has {tensor.FloatData.Count} floats for shape [{string.Join(",", tensor.Dims)}]", where, "The model file is damaged");
        return tensor.FloatData.ToArray();
    }
}
