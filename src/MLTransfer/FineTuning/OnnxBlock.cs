using System.Buffers.Binary;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLTransfer.Backbones;
using MLTransfer.Backbones.Onnx;

namespace MLTransfer.FineTuning;

/// <summary>
/// The ONNX side of fine-tuning: choosing the cut, importing the nodes above it as a
/// <see cref="TrainableNetwork"/>, building the frozen graph that computes the cut tensor, and writing
/// trained weights back into a copy of the graph.
/// </summary>
/// <remarks>
/// Definition of "the last N layers": walking back from the feature tensor in graph order, the N-th
/// Conv node is the lowest trainable layer, and the cut is its data input. A cut must be a single tensor
/// through which everything flows, so if that tensor is bypassed by a skip connection (the N-th conv
/// sits inside a residual block) the cut moves down, node by node, to the first tensor that is — the
/// block's input — and the whole block becomes trainable. For MobileNetV2, N = 1 is Conv_1, N = 4 is
/// expanded_conv_16 + Conv_1 (cut at expanded_conv_15/add), N = 5 takes expanded_conv_15 whole (7 convs).
/// </remarks>
internal static class OnnxBlock
{
    private const int FloatType = (int)TensorProto.Types.DataType.Float;

    /// <summary>Chooses the cut for the last <paramref name="convLayers"/> Conv layers below <paramref name="outputTensor"/>.</summary>
    public static CutPlan Plan(ModelProto model, int convLayers, string outputTensor, string where)
    {
        var index = new OnnxGraphIndex(model.Graph);
        var ancestors = Ancestors(index, outputTensor, stopAt: null);
        var ordered = model.Graph.Node.Where(ancestors.Contains).ToList();
        var convs = ordered.Where(n => n.OpType == "Conv").ToList();
        if (convLayers < 1 || convLayers > convs.Count)
            throw new MLTransferException(
                $"Cannot unfreeze {convLayers} conv layer(s): the backbone has {convs.Count} below its feature tensor '{outputTensor}'",
                where, $"Set FineTuningOptions.Unfreeze (CLI: --unfreeze) between 1 and {convs.Count}");
        var lowest = convs[^convLayers];
        for (var pos = ordered.IndexOf(lowest); pos >= 0; pos--)
        {
            foreach (var candidate in ordered[pos].Input.Where(i => i.Length > 0 && !index.IsConstant(i)))
            {
                var region = TryRegion(index, outputTensor, candidate);
                if (region is null || !region.Contains(lowest))
                    continue;
                var nodes = model.Graph.Node.Where(region.Contains).ToList();
                return new CutPlan(candidate, outputTensor, nodes.Select(OnnxShapes.Describe).ToList(), convLayers, nodes.Count(n => n.OpType == "Conv"));
            }
        }
        throw new MLTransferException(
            $"No single tensor separates the last {convLayers} conv layer(s) from the rest of the backbone", where,
            "Unfreeze fewer layers");
    }

    /// <summary>Imports the nodes of <paramref name="plan"/> with their weights.</summary>
    /// <exception cref="MLTransferException">A node above the cut uses an operator the engine cannot train.</exception>
    public static TrainableNetwork Import(ModelProto model, CutPlan plan, string where)
    {
        var index = new OnnxGraphIndex(model.Graph);
        var region = TryRegion(index, plan.OutputTensor, plan.CutTensor)
            ?? throw new InvalidOperationException($"'{plan.CutTensor}' is not a cut of this graph.");
        var nodes = model.Graph.Node.Where(region.Contains).ToList();

        // Weights also read below the cut (or by nodes outside the block) must not change, or the frozen
        // part computing the cached activations would no longer be the graph that is saved.
        var usedOutside = model.Graph.Node.Where(n => !region.Contains(n)).SelectMany(n => n.Input).ToHashSet(StringComparer.Ordinal);
        var parameters = new Dictionary<string, Parameter>(StringComparer.Ordinal);
        Parameter Param(string name, NodeProto node, bool transposed = false)
        {
            if (parameters.TryGetValue(name, out var existing))
                return existing;
            var tensor = index.ConstantTensor(name)
                ?? throw Unsupported(node, $"its weight '{name}' is computed, not a constant", where);
            var dims = tensor.Dims.ToArray();
            var values = Floats(tensor, where);
            if (transposed)
                values = Parameter.Transpose(values, (int)dims[0], (int)dims[1]);
            var p = new Parameter(name, dims, values, transposed)
            {
                Trainable = index.Initializers.ContainsKey(name) && !usedOutside.Contains(name),
            };
            return parameters[name] = p;
        }

        var layers = new List<Layer>();
        foreach (var node in nodes)
        {
            if (!OnnxGraphIndex.IsDefaultDomain(node))
                throw Unsupported(node, $"domain '{node.Domain}' is not supported", where);
            var name = OnnxShapes.Describe(node);
            var output = node.Output[0];
            layers.Add(node.OpType switch
            {
                "Conv" => Conv(node, name, output, Param, where),
                "Relu" => new ClipLayer(name, "Relu", node.Input[0], output, 0f, float.PositiveInfinity),
                "Clip" => new ClipLayer(name, "Clip", node.Input[0], output,
                    ClipBound(index, node, 1, "min", float.NegativeInfinity, where), ClipBound(index, node, 2, "max", float.PositiveInfinity, where)),
                "Add" when node.Input.All(i => !index.IsConstant(i)) => new AddLayer(name, node.Input[0], node.Input[1], output),
                "GlobalAveragePool" => new GlobalAveragePoolLayer(name, node.Input[0], output),
                "AveragePool" => WholeMapAveragePool(node, name, output, where),
                "Flatten" when (OnnxShapes.IntAttr(node, "axis") ?? 1) == 1 => new FlattenLayer(name, node.Input[0], output),
                "Gemm" => Gemm(node, name, output, Param, where),
                "BatchNormalization" => BatchNorm(node, name, output, Param, index, where),
                _ => throw Unsupported(node, "the fine-tuning engine has no backward pass for it", where),
            });
        }
        return new TrainableNetwork(plan.CutTensor, plan.OutputTensor, layers);
    }

    /// <summary>
    /// The frozen part as a prepared-backbone graph: same input, and <see cref="PreparedBackbone.OutputName"/>
    /// is the flattened cut tensor, so the existing batched session, extractor and feature cache run it.
    /// </summary>
    /// <returns>The graph bytes and the per-image shape <c>[C, H, W]</c> of the cut tensor.</returns>
    public static (byte[] Bytes, int[] CutShape) FrozenGraph(PreparedBackbone prepared, string cutTensor, string where)
    {
        var model = OnnxModelIO.Parse(prepared.OnnxBytes, where);
        var graph = model.Graph;
        var index = new OnnxGraphIndex(graph);
        var keep = Ancestors(index, cutTensor, stopAt: null);
        var nodes = graph.Node.Where(keep.Contains).ToList();
        graph.Node.Clear();
        graph.Node.AddRange(nodes);
        var used = nodes.SelectMany(n => n.Input).ToHashSet(StringComparer.Ordinal);
        var initializers = graph.Initializer.Where(t => used.Contains(t.Name)).ToList();
        graph.Initializer.Clear();
        graph.Initializer.AddRange(initializers);
        var inputs = graph.Input.Where(i => i.Name == PreparedBackbone.InputName || used.Contains(i.Name)).ToList();
        graph.Input.Clear();
        graph.Input.AddRange(inputs);

        var flatten = new NodeProto { OpType = "Flatten", Name = "mltransfer_cut_flatten" };
        flatten.Input.Add(cutTensor);
        flatten.Output.Add(PreparedBackbone.OutputName);
        flatten.Attribute.Add(OnnxShapes.IntAttribute("axis", 1));
        graph.Node.Add(flatten);

        var inputDims = OnnxShapes.Dims(graph.Input.First(i => i.Name == PreparedBackbone.InputName))!;
        var batch = OnnxShapes.StaticValue(inputDims[0]) is { } b ? OnnxShapes.Dim(b) : OnnxShapes.Dim("N");
        graph.Output.Clear();
        graph.Output.Add(OnnxShapes.TensorValue(cutTensor, FloatType));
        var probeBytes = model.ToByteArray();

        var shape = ProbeShape(probeBytes, prepared, (int)(OnnxShapes.StaticValue(batch) ?? 1), cutTensor, where);
        graph.Output.Clear();
        graph.Output.Add(OnnxShapes.TensorValue(PreparedBackbone.OutputName, FloatType, batch, OnnxShapes.Dim(shape.Aggregate(1, (x, y) => x * y))));
        return (model.ToByteArray(), shape);
    }

    /// <summary>A copy of the prepared graph with the trained parameters' initializers replaced.</summary>
    public static byte[] WriteBack(byte[] preparedBytes, TrainableNetwork network, string note, string where)
    {
        var model = OnnxModelIO.Parse(preparedBytes, where);
        var byName = model.Graph.Initializer.ToDictionary(t => t.Name, StringComparer.Ordinal);
        foreach (var p in network.TrainableParameters)
        {
            var tensor = byName[p.Name];
            var values = p.OnnxValue();
            var bytes = new byte[values.Length * sizeof(float)];
            for (var i = 0; i < values.Length; i++)
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
            tensor.FloatData.Clear();
            tensor.RawData = ByteString.CopyFrom(bytes);
        }
        const string key = "mltransfer.finetuned";
        var entry = model.MetadataProps.FirstOrDefault(kv => kv.Key == key);
        if (entry is null)
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = note });
        else
            entry.Value = note;
        return model.ToByteArray();
    }

    internal static float[] Floats(TensorProto tensor, string where)
    {
        if (tensor.DataType != FloatType)
            throw new MLTransferException(
                $"Weight '{tensor.Name}' is {OnnxShapes.ElemTypeName(tensor.DataType)}; fine-tuning needs float32 weights", where,
                "Use a float32 export of the backbone, or train only the head with 'mltransfer train'");
        var count = (int)tensor.Dims.Aggregate(1L, (a, d) => a * d);
        if (tensor.HasRawData)
        {
            var raw = tensor.RawData.Span;
            if (raw.Length != count * 4)
                throw new MLTransferException($"Weight '{tensor.Name}' has {raw.Length} bytes for {count} floats", where, "The model file is damaged; re-download it");
            var values = new float[count];
            for (var i = 0; i < count; i++)
                values[i] = BinaryPrimitives.ReadSingleLittleEndian(raw.Slice(i * 4));
            return values;
        }
        if (tensor.ExternalData.Count > 0)
            throw new MLTransferException($"Weight '{tensor.Name}' is stored in an external file", where, "Use a self-contained .onnx file");
        if (tensor.FloatData.Count != count)
            throw new MLTransferException($"Weight '{tensor.Name}' has {tensor.FloatData.Count} floats for shape [{string.Join(",", tensor.Dims)}]", where, "The model file is damaged; re-download it");
        return tensor.FloatData.ToArray();
    }

    /// <summary>Non-constant nodes needed to compute <paramref name="tensor"/>.</summary>
    private static HashSet<NodeProto> Ancestors(OnnxGraphIndex index, string tensor, string? stopAt)
    {
        var nodes = new HashSet<NodeProto>();
        var stack = new Stack<string>([tensor]);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (stack.Count > 0)
        {
            var name = stack.Pop();
            if (!seen.Add(name) || name == stopAt || name.Length == 0)
                continue;
            if (index.Producers.TryGetValue(name, out var producer) && nodes.Add(producer))
                foreach (var i in producer.Input)
                    stack.Push(i);
        }
        return nodes;
    }

    /// <summary>
    /// The nodes between <paramref name="cut"/> and <paramref name="output"/>, or null when some path to the
    /// output bypasses the cut (it reaches a graph input without passing through the cut).
    /// </summary>
    private static HashSet<NodeProto>? TryRegion(OnnxGraphIndex index, string output, string cut)
    {
        var nodes = new HashSet<NodeProto>();
        var stack = new Stack<string>([output]);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (stack.Count > 0)
        {
            var name = stack.Pop();
            if (name.Length == 0 || name == cut || index.IsConstant(name) || !seen.Add(name))
                continue;
            if (!index.Producers.TryGetValue(name, out var producer))
                return null; // a graph input reached around the cut
            if (producer.OpType == "Constant")
                continue;
            nodes.Add(producer);
            foreach (var i in producer.Input)
                stack.Push(i);
        }
        return nodes.Count > 0 ? nodes : null;
    }

    private static ConvLayer Conv(NodeProto node, string name, string output, Func<string, NodeProto, bool, Parameter> param, string where)
    {
        var autoPad = node.Attribute.FirstOrDefault(a => a.Name == "auto_pad")?.S.ToStringUtf8() ?? "NOTSET";
        if (autoPad is not ("NOTSET" or "VALID" or ""))
            throw Unsupported(node, $"auto_pad {autoPad} is not supported (explicit pads are)", where);
        var weight = param(node.Input[1], node, false);
        if (weight.OnnxDims.Length != 4)
            throw Unsupported(node, $"only 2-D convolutions are supported (weight rank {weight.OnnxDims.Length})", where);
        var bias = node.Input.Count > 2 && node.Input[2].Length > 0 ? param(node.Input[2], node, false) : null;
        int[] Ints(string attr, int[] fallback) => OnnxShapes.IntsAttr(node, attr) is { Count: > 0 } v ? v.Select(x => (int)x).ToArray() : fallback;
        return new ConvLayer(name, node.Input[0], output, weight, bias, (int)(OnnxShapes.IntAttr(node, "group") ?? 1),
            Ints("strides", [1, 1]), Ints("dilations", [1, 1]), Ints("pads", [0, 0, 0, 0]));
    }

    private static GemmLayer Gemm(NodeProto node, string name, string output, Func<string, NodeProto, bool, Parameter> param, string where)
    {
        if ((OnnxShapes.IntAttr(node, "transA") ?? 0) != 0)
            throw Unsupported(node, "transA = 1 is not supported", where);
        var transB = (OnnxShapes.IntAttr(node, "transB") ?? 0) != 0;
        var weight = param(node.Input[1], node, !transB);
        var bias = node.Input.Count > 2 && node.Input[2].Length > 0 ? param(node.Input[2], node, false) : null;
        float F(string attr) => node.Attribute.FirstOrDefault(a => a.Name == attr) is { HasF: true } a ? a.F : 1f;
        return new GemmLayer(name, node.Input[0], output, weight, bias, F("alpha"), F("beta"));
    }

    private static BatchNormLayer BatchNorm(NodeProto node, string name, string output, Func<string, NodeProto, bool, Parameter> param, OnnxGraphIndex index, string where)
    {
        if ((OnnxShapes.IntAttr(node, "training_mode") ?? 0) != 0 || node.Output.Count > 1 && node.Output.Skip(1).Any(o => o.Length > 0))
            throw Unsupported(node, "only inference-mode batch normalisation is supported", where);
        float[] Const(int i) => index.ConstantTensor(node.Input[i]) is { } t ? Floats(t, where)
            : throw Unsupported(node, $"its statistics '{node.Input[i]}' are not constant", where);
        var epsilon = node.Attribute.FirstOrDefault(a => a.Name == "epsilon") is { HasF: true } e ? e.F : 1e-5f;
        return new BatchNormLayer(name, node.Input[0], output, param(node.Input[1], node, false), param(node.Input[2], node, false), Const(3), Const(4), epsilon);
    }

    /// <summary>An AveragePool without padding or dilation; whether its kernel covers the whole map is checked on the first batch.</summary>
    private static GlobalAveragePoolLayer WholeMapAveragePool(NodeProto node, string name, string output, string where)
    {
        var kernel = OnnxShapes.IntsAttr(node, "kernel_shape");
        var autoPad = node.Attribute.FirstOrDefault(a => a.Name == "auto_pad")?.S.ToStringUtf8() ?? "NOTSET";
        if (kernel is not { Count: 2 } || autoPad is not ("NOTSET" or "VALID" or "")
            || OnnxShapes.IntsAttr(node, "pads") is { } pads && pads.Any(p => p != 0)
            || OnnxShapes.IntsAttr(node, "dilations") is { } dilations && dilations.Any(d => d != 1))
            throw Unsupported(node, "only an AveragePool over the whole map (2-D kernel, no padding) is supported", where);
        return new GlobalAveragePoolLayer(name, node.Input[0], output, ((int)kernel[0], (int)kernel[1]));
    }

    private static float ClipBound(OnnxGraphIndex index, NodeProto node, int input, string attribute, float fallback, string where)
    {
        if (node.Input.Count > input && node.Input[input].Length > 0)
        {
            var t = index.ConstantTensor(node.Input[input]) ?? throw Unsupported(node, $"its {attribute} is not a constant", where);
            return Floats(t, where)[0];
        }
        // Before opset 11 the bounds were attributes.
        return node.Attribute.FirstOrDefault(a => a.Name == attribute) is { HasF: true } a ? a.F : fallback;
    }

    private static int[] ProbeShape(byte[] graph, PreparedBackbone prepared, int batch, string cutTensor, string where)
    {
        try
        {
            using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
            using var session = new InferenceSession(graph, options);
            var pixels = new DenseTensor<float>([batch, 3, prepared.InputHeight, prepared.InputWidth]);
            using var results = session.Run([NamedOnnxValue.CreateFromTensor(PreparedBackbone.InputName, pixels)], [cutTensor]);
            var dims = results.First().AsTensor<float>().Dimensions.ToArray();
            if (dims.Length is not (2 or 4))
                throw new MLTransferException($"The cut tensor '{cutTensor}' has rank {dims.Length}; fine-tuning needs [N,C] or [N,C,H,W]", where, "Unfreeze a different number of layers");
            return dims.Length == 4 ? [dims[1], dims[2], dims[3]] : [dims[1], 1, 1];
        }
        catch (OnnxRuntimeException ex)
        {
            throw new MLTransferException($"The frozen part of the backbone (up to '{cutTensor}') failed to run: {ex.Message}", where,
                "Unfreeze a different number of layers", ex);
        }
    }

    private static MLTransferException Unsupported(NodeProto node, string reason, string where) =>
        new($"Node '{OnnxShapes.Describe(node)}' ({node.OpType}) above the cut cannot be fine-tuned: {reason}", where,
            "Unfreeze fewer layers so that only Conv, Relu, Clip, Add, GlobalAveragePool (or a whole-map AveragePool), Flatten, Gemm and BatchNormalization nodes are trainable");
}
