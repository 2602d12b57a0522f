using MLTransfer.Backbones.Onnx;

namespace MLTransfer.Backbones;

/// <summary>
/// Finds the embedding tensor of an ImageNet-style classifier: the input of its final fully connected
/// layer.
/// </summary>
/// <remarks>
/// Exporters disagree on how the last layer looks (PyTorch writes <c>Flatten -> Gemm</c>, TensorFlow
/// converters write <c>MatMul -> Add</c>, TF-Slim and Caffe models use a 1x1 <c>Conv</c> on the pooled map,
/// most end in a <c>Softmax</c> or <c>Reshape</c>). Rather than matching names, the detector walks back from
/// the graph output through operators that do not change what the features mean until it reaches that
/// linear layer; whatever feeds it is the feature tensor. A headless backbone (no classifier at all, such as ML.NET's
/// ResNet-18) is recognised by its single output coming straight from global pooling: that output is the embedding.
/// </remarks>
internal static class FeatureTensorDetector
{
    // Operators between the classifier and the graph output that only reshape or normalise the logits.
    private static readonly HashSet<string> PassThroughOps =
        ["Softmax", "LogSoftmax", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"];

    // Operators allowed between global pooling and a 1x1 Conv classifier: they keep the values, only the shape.
    private static readonly HashSet<string> ShapeOnlyOps = ["Flatten", "Reshape", "Squeeze", "Unsqueeze", "Identity", "Dropout"];

    private static readonly HashSet<string> PoolingOps = ["GlobalAveragePool", "AveragePool", "ReduceMean", "GlobalMaxPool"];

    /// <summary>
    /// Finds the feature tensor of <paramref name="model"/>, or checks the one the user named.
    /// </summary>
    /// <param name="model">A parsed ONNX model.</param>
    /// <param name="userTensor">A tensor name chosen by the user, or null to detect it.</param>
    /// <param name="source">File name used in error messages; defaults to the graph name.</param>
    /// <exception cref="MLTransferException">
    /// The graph has no image-like 4-D input, no classifier can be found, or the named tensor does not exist.
    /// </exception>
    public static FeatureTensorInfo Detect(ModelProto model, string? userTensor = null, string? source = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var where = source ?? DescribeModel(model);
        var graph = model.Graph ?? throw new MLTransferException("The model has no graph", where,
            "Check that the file is a complete ONNX model");
        var index = new OnnxGraphIndex(graph);

        // Everything downstream assumes an image classifier; say so early rather than report a missing
        // classifier in, say, a text model.
        FindImageInput(index, null, where);

        if (!string.IsNullOrWhiteSpace(userTensor))
            return CheckUserTensor(index, userTensor, where);

        foreach (var output in graph.Output)
        {
            var found = WalkBackToClassifier(index, output.Name);
            if (found is not null)
                return found;
        }

        // Only a pooled output counts: an unpooled map (a segmentation or detection head) is not an embedding.
        if (graph.Output.Count == 1 && ComesFromPooling(index, graph.Output[0].Name))
            return FromHeadlessOutput(index, graph.Output[0]);

        throw new MLTransferException(
            $"No classifier node (Gemm/MatMul/1x1 Conv after global pooling) found in model {where}, and its output is " +
            $"not a single pooled feature map (a headless backbone); the graph outputs are " +
            $"{string.Join(", ", graph.Output.Select(o => $"'{o.Name}' {OnnxShapes.FormatShape(o)}"))}",
            where,
            $"Set BackboneDescription.FeatureTensor (CLI: --feature-tensor NAME) to the tensor to use as the embedding; the last values computed " +
            $"by the graph are {LastValues(graph)}");
    }

    /// <summary>
    /// Picks the image input: <paramref name="preferred"/> if given, else the only real input, else the
    /// only 4-D one. Fails when none is a 4-D tensor.
    /// </summary>
    internal static ValueInfoProto FindImageInput(OnnxGraphIndex index, string? preferred, string where)
    {
        var inputs = index.RealInputs.ToList();
        var listing = inputs.Count == 0
            ? "none"
            : string.Join(", ", inputs.Select(i => $"'{i.Name}' {OnnxShapes.FormatShape(i)}"));

        if (!string.IsNullOrEmpty(preferred))
        {
            return index.Graph.Input.FirstOrDefault(i => i.Name == preferred)
                ?? throw new MLTransferException(
                    $"The backbone description names input '{preferred}', but the model's inputs are {listing}",
                    where, "Fix InputName in the backbone description, or leave it empty to use the only input");
        }

        // An undeclared shape could still be an image, so only a declared non-4-D shape rules an input out.
        var candidates = inputs.Where(i => OnnxShapes.Dims(i) is not { } d || d.Count == 4).ToList();
        if (candidates.Count == 0)
        {
            // Some exporters give the image input a default value (an initializer of the same name). Old IR
            // versions also list every weight as an input, so only a batch-like [1 or N, 3, H, W] one counts.
            candidates = index.Graph.Input
                .Where(i => index.Initializers.ContainsKey(i.Name))
                .Where(i => OnnxShapes.Dims(i) is { Count: 4 } d
                    && OnnxShapes.StaticValue(d[0]) is null or 1 && OnnxShapes.StaticValue(d[1]) == 3)
                .ToList();
        }
        if (candidates.Count == 1)
            return candidates[0];
        if (candidates.Count == 0)
            throw new MLTransferException(
                $"The model has no image-like 4-D input [N,3,H,W]; its inputs are {listing}",
                where, "Use an ONNX image classifier with one NCHW float input");
        throw new MLTransferException(
            $"The model has several possible image inputs: {listing}",
            where, "Set InputName in the backbone description to the image input");
    }

    private static FeatureTensorInfo? WalkBackToClassifier(OnnxGraphIndex index, string outputName)
    {
        var name = outputName;
        // Bounded by the node count so that a malformed cyclic graph cannot loop forever.
        for (var steps = 0; steps <= index.Graph.Node.Count; steps++)
        {
            if (!index.Producers.TryGetValue(name, out var node) || !OnnxGraphIndex.IsDefaultDomain(node))
                return null;

            if (PassThroughOps.Contains(node.OpType))
            {
                if (node.Input.Count == 0) return null;
                name = node.Input[0];
                continue;
            }

            switch (node.OpType)
            {
                case "Add":
                    // A bias added after MatMul (TF converters) or after Gemm/Conv; a residual Add has two
                    // data inputs and ends the walk.
                    var data = node.Input.Where(i => !index.IsConstant(i)).ToList();
                    if (node.Input.Count != 2 || data.Count != 1)
                        return null;
                    name = data[0];
                    continue;
                case "Gemm":
                    return FromGemm(index, node);
                case "MatMul":
                    return FromMatMul(index, node);
                case "Conv":
                    return FromPointwiseConv(index, node);
                default:
                    return null;
            }
        }
        return null;
    }

    private static FeatureTensorInfo FromHeadlessOutput(OnnxGraphIndex index, ValueInfoProto output)
    {
        var dims = OnnxShapes.Dims(output);
        int? size = dims is { Count: >= 2 } && dims.Skip(1).All(d => OnnxShapes.StaticValue(d) is not null)
            ? checked((int)dims.Skip(1).Aggregate(1L, (acc, d) => acc * d.DimValue))
            : null;
        return new FeatureTensorInfo(output.Name, null, null, size, NeedsFlatten(index, output.Name, true), HeadlessOutput: true);
    }

    private static FeatureTensorInfo? FromGemm(OnnxGraphIndex index, NodeProto gemm)
    {
        // With transA the features would be laid out [C, N]; no exported classifier does that.
        if (gemm.Input.Count < 2 || index.IsConstant(gemm.Input[0]) || OnnxShapes.IntAttr(gemm, "transA") is 1)
            return null;
        int? size = null;
        if (index.ConstantTensor(gemm.Input[1]) is { Dims.Count: 2 } w)
            size = (int)(OnnxShapes.IntAttr(gemm, "transB") is 1 ? w.Dims[1] : w.Dims[0]);
        else if (!index.IsConstant(gemm.Input[1]))
            return null; // both operands computed: not a layer with learned weights
        return new FeatureTensorInfo(gemm.Input[0], OnnxShapes.Describe(gemm), "Gemm", size, NeedsFlatten(index, gemm.Input[0], false));
    }

    private static FeatureTensorInfo? FromMatMul(OnnxGraphIndex index, NodeProto matmul)
    {
        if (matmul.Input.Count != 2 || index.IsConstant(matmul.Input[0]) || !index.IsConstant(matmul.Input[1]))
            return null;
        int? size = index.ConstantTensor(matmul.Input[1]) is { Dims.Count: 2 } w ? (int)w.Dims[0] : null;
        return new FeatureTensorInfo(matmul.Input[0], OnnxShapes.Describe(matmul), "MatMul", size, NeedsFlatten(index, matmul.Input[0], false));
    }

    private static FeatureTensorInfo? FromPointwiseConv(OnnxGraphIndex index, NodeProto conv)
    {
        if (conv.Input.Count < 2 || index.IsConstant(conv.Input[0]))
            return null;
        if (index.ConstantTensor(conv.Input[1]) is not { Dims.Count: 4 } w || w.Dims[2] != 1 || w.Dims[3] != 1)
            return null;
        // A grouped 1x1 conv is a depthwise-style layer, not a fully connected classifier.
        if (OnnxShapes.IntAttr(conv, "group") is { } g && g != 1)
            return null;
        // A 1x1 Conv in the middle of a network is an ordinary layer; it is the classifier only when it
        // sees a pooled 1x1 map.
        if (!ComesFromPooling(index, conv.Input[0]))
            return null;
        return new FeatureTensorInfo(conv.Input[0], OnnxShapes.Describe(conv), "Conv", (int)w.Dims[1], NeedsFlatten: true);
    }

    private static bool ComesFromPooling(OnnxGraphIndex index, string name)
    {
        for (var steps = 0; steps <= index.Graph.Node.Count; steps++)
        {
            if (!index.Producers.TryGetValue(name, out var node) || node.Input.Count == 0)
                return false;
            if (PoolingOps.Contains(node.OpType))
                return true;
            if (!ShapeOnlyOps.Contains(node.OpType))
                return false;
            name = node.Input[0];
        }
        return false;
    }

    private static FeatureTensorInfo CheckUserTensor(OnnxGraphIndex index, string name, string where)
    {
        var exists = index.Producers.ContainsKey(name) || index.RealInputs.Any(i => i.Name == name);
        if (!exists)
        {
            var hint = index.IsConstant(name)
                ? $"'{name}' is a constant (weights), not a computed tensor"
                : $"the last values computed by the graph are {LastValues(index.Graph)}";
            throw new MLTransferException(
                $"Feature tensor '{name}' does not exist in model {where}", where,
                $"Set BackboneDescription.FeatureTensor (CLI: --feature-tensor) to the name of a node output ({hint}), or omit it to detect the classifier input");
        }

        index.Declared.TryGetValue(name, out var declared);
        var dims = OnnxShapes.Dims(declared);
        int? size = null;
        if (dims is { Count: >= 2 } && dims.Skip(1).All(d => OnnxShapes.StaticValue(d) is not null))
            size = checked((int)dims.Skip(1).Aggregate(1L, (acc, d) => acc * d.DimValue));
        return new FeatureTensorInfo(name, null, null, size, NeedsFlatten: dims is null || dims.Count != 2);
    }

    private static bool NeedsFlatten(OnnxGraphIndex index, string name, bool fallback) =>
        index.Declared.TryGetValue(name, out var vi) && OnnxShapes.Dims(vi) is { Count: > 0 } dims
            ? dims.Count != 2
            : fallback;

    private static string LastValues(GraphProto graph)
    {
        var names = graph.Node.SelectMany(n => n.Output).Where(o => o.Length > 0).TakeLast(6).Select(o => $"'{o}'");
        var list = string.Join(", ", names);
        return list.Length == 0 ? "(none)" : list;
    }

    internal static string DescribeModel(ModelProto model) =>
        model.Graph is { Name.Length: > 0 } g ? $"'{g.Name}'" : "(unnamed model)";
}
