namespace MLTransfer.Backbones.Onnx;

/// <summary>
/// Decides whether a graph exported with a fixed batch size (CNTK and many Caffe exports declare batch 1) can be
/// declared with a symbolic batch, and does it.
/// </summary>
/// <remarks>
/// A declared batch of 1 is often only a declaration: convolutions, pooling and per-channel arithmetic work on
/// any batch. It is a real limit when a node bakes the batch into a constant (a Reshape to <c>[1, -1]</c>), works
/// across images (a Concat or reduction over axis 0), or computes shapes at run time. The check is conservative:
/// every node that sees image data must be one whose batch behaviour is known, otherwise the batch stays fixed and
/// the node is named.
/// </remarks>
internal static class BatchDimension
{
    /// <summary>Symbolic name given to a freed batch dimension.</summary>
    public const string Symbol = "N";

    // Per-image operators: each output image depends only on the same input image, for any attributes.
    private static readonly HashSet<string> PerImage =
    [
        "Abs", "AveragePool", "BatchNormalization", "Cast", "Ceil", "Clip", "Conv", "ConvTranspose", "Dropout", "Elu",
        "Erf", "Exp", "Floor", "GlobalAveragePool", "GlobalLpPool", "GlobalMaxPool", "HardSigmoid", "HardSwish", "Identity",
        "InstanceNormalization", "LeakyRelu", "Log", "LpNormalization", "LpPool", "LRN", "MaxPool", "Neg", "Reciprocal", "Relu",
        "Selu", "Sigmoid", "Sign", "Softplus", "Softsign", "Sqrt", "Tanh",
    ];

    // Elementwise operators with broadcasting: safe unless a constant operand has a batch axis bigger than 1.
    private static readonly HashSet<string> Broadcasting = ["Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "PRelu", "Where"];

    /// <summary>
    /// Frees the batch dimension of <paramref name="imageInput"/> when every node that sees image data works on any
    /// batch: the input, the outputs and every declared intermediate shape get the symbolic batch <see cref="Symbol"/>.
    /// </summary>
    /// <returns>Null when the batch was freed (or was not fixed); otherwise why it stays fixed, naming the node.</returns>
    public static string? TryFree(GraphProto graph, string imageInput)
    {
        var input = graph.Input.Single(i => i.Name == imageInput);
        if (OnnxShapes.Dims(input) is not { Count: > 0 } inputDims || OnnxShapes.StaticValue(inputDims[0]) is not { } fixedBatch)
            return null;
        var index = new OnnxGraphIndex(graph);
        // Values computed from the image: only the nodes on them can care about the batch.
        var batched = new HashSet<string>(StringComparer.Ordinal) { imageInput };
        foreach (var node in graph.Node)
        {
            if (!node.Input.Any(i => i.Length > 0 && batched.Contains(i)))
                continue;
            var pin = Pin(node, index, batched);
            if (pin is not null)
                return $"node '{OnnxShapes.Describe(node)}' ({node.OpType}) {pin}";
            foreach (var o in node.Output.Where(o => o.Length > 0))
                batched.Add(o);
        }
        foreach (var vi in graph.Input.Concat(graph.Output).Concat(graph.ValueInfo).Where(v => batched.Contains(v.Name)))
        {
            if (OnnxShapes.Dims(vi) is { Count: > 0 } dims && OnnxShapes.StaticValue(dims[0]) == fixedBatch)
                vi.Type.TensorType.Shape.Dim[0] = OnnxShapes.Dim(Symbol);
        }
        return null;
    }

    private static string? Pin(NodeProto node, OnnxGraphIndex index, HashSet<string> batched)
    {
        if (!OnnxGraphIndex.IsDefaultDomain(node))
            return $"is in domain '{node.Domain}', whose batch behaviour is unknown";
        var op = node.OpType;
        if (PerImage.Contains(op))
            return null;
        if (Broadcasting.Contains(op))
        {
            foreach (var input in node.Input.Where(i => i.Length > 0 && !batched.Contains(i)))
            {
                // A constant of full rank whose first axis is more than 1 lines up with the batch axis.
                if (index.ConstantTensor(input) is { } c && c.Dims.Count >= RankOf(node, index, batched) && c.Dims.Count > 0 && c.Dims[0] != 1)
                    return $"broadcasts the constant '{input}' of shape [{string.Join(",", c.Dims)}] over the batch axis";
                if (index.ConstantTensor(input) is null && !index.Initializers.ContainsKey(input))
                    return $"combines image data with the computed value '{input}'";
            }
            return null;
        }
        switch (op)
        {
            case "Concat":
                return AxisIsBatch(node, "axis", null) ? "concatenates along the batch axis" : null;
            case "Split":
                return AxisIsBatch(node, "axis", 0) ? "splits along the batch axis" : null;
            case "Flatten":
                return AxisIsBatch(node, "axis", 1) ? "flattens the batch axis away" : null;
            case "Softmax" or "LogSoftmax" or "Hardmax":
                return AxisIsBatch(node, "axis", 1) ? "normalises across the batch axis" : null;
            case "Gemm":
                return OnnxShapes.IntAttr(node, "transA") is 1 || node.Input.Skip(1).Any(batched.Contains) ? "mixes images (transposed or computed operand)" : null;
            case "MatMul":
                return node.Input.Count == 2 && !batched.Contains(node.Input[1]) && index.ConstantTensor(node.Input[1]) is { Dims.Count: 2 } ? null
                    : "multiplies by a computed or batched matrix";
            case "Transpose":
                return OnnxShapes.IntsAttr(node, "perm") is { Count: > 0 } perm && perm[0] != 0 ? "moves the batch axis" : null;
            case "Reshape":
                if (node.Input.Count < 2 || index.ConstantTensor(node.Input[1]) is not { } shape)
                    return "reshapes to a shape computed at run time";
                var target = Int64s(shape);
                if (target.Length == 0 || target[0] is not (0 or -1) || target[0] == -1 && target.Skip(1).Any(v => v is -1 or 0))
                    return $"reshapes to the constant shape [{string.Join(",", target)}], which fixes the batch";
                return null;
            case "Squeeze" or "Unsqueeze" or "ReduceMean" or "ReduceSum" or "ReduceMax" or "ReduceMin" or "ReduceProd" or "ReduceL1" or "ReduceL2" or "ReduceLogSumExp" or "ReduceSumSquare":
                var axes = OnnxShapes.IntsAttr(node, "axes") is { Count: > 0 } a ? a.ToArray()
                    : node.Input.Count > 1 && index.ConstantTensor(node.Input[1]) is { } t ? Int64s(t) : null;
                if (axes is null)
                    return op.StartsWith("Reduce", StringComparison.Ordinal) || op == "Squeeze" ? "acts on all axes, the batch included" : "has no constant axes";
                return axes.Any(x => x == 0 || x < 0) ? $"acts on axes [{string.Join(",", axes)}], which may include the batch" : null;
            default:
                return "is not an operator whose batch behaviour MLTransfer knows";
        }
    }

    private static bool AxisIsBatch(NodeProto node, string attribute, long? fallback)
    {
        var axis = OnnxShapes.IntAttr(node, attribute) ?? fallback;
        // A negative axis counts from the end; without a known rank it might be 0, so it is treated as the batch.
        return axis is null or 0 or < 0 && axis != -1;
    }

    private static int RankOf(NodeProto node, OnnxGraphIndex index, HashSet<string> batched)
    {
        foreach (var input in node.Input.Where(batched.Contains))
            if (index.Declared.TryGetValue(input, out var vi) && OnnxShapes.Dims(vi) is { } dims)
                return dims.Count;
        return 1; // unknown: any constant of rank >= 1 is treated as possibly reaching the batch axis
    }

    private static long[] Int64s(TensorProto t)
    {
        if (t.Int64Data.Count > 0)
            return t.Int64Data.ToArray();
        var raw = t.RawData.Span;
        var values = new long[raw.Length / 8];
        for (var i = 0; i < values.Length; i++)
            values[i] = System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(raw.Slice(i * 8));
        return values;
    }
}
