namespace MLTransfer.Backbones.Onnx;

/// <summary>
/// Moves the nodes of a graph to a newer default-domain opset, so that two graphs written for different opsets can
/// live in one model (a model imports each domain at one version).
/// </summary>
/// <remarks>
/// Only what image backbones and their preprocessing use is covered. Operators whose behaviour did not change
/// between the two versions are kept; the known breaking changes are rewritten (attributes that became inputs,
/// removed attributes whose old value equals the new behaviour); anything else is refused with the operator named,
/// because guessing would silently change what the graph computes.
/// </remarks>
internal static class OnnxOpsetUpgrade
{
    // Unchanged in meaning from opset 7 on for the float tensors backbones use: new versions only added types,
    // optional inputs or attributes whose default keeps the old behaviour.
    private static readonly HashSet<string> Stable =
    [
        "Abs", "Add", "And", "ArgMax", "ArgMin", "AveragePool", "Cast", "Ceil", "Concat", "Constant", "Conv", "ConvTranspose",
        "Div", "Elu", "Equal", "Erf", "Exp", "Flatten", "Floor", "Gather", "Gemm", "GlobalAveragePool", "GlobalLpPool",
        "GlobalMaxPool", "Greater", "HardSigmoid", "Identity", "InstanceNormalization", "LeakyRelu", "Less", "Log",
        "LpNormalization", "LRN", "MatMul", "Max", "MaxPool", "Mean", "Min", "Mul", "Neg", "Not", "Or", "Pow", "PRelu",
        "Reciprocal", "Relu", "Reshape", "Selu", "Shape", "Sigmoid", "Sign", "Softplus", "Softsign", "Sqrt", "Sub", "Sum",
        "Tanh", "Transpose", "Where",
    ];

    // Operators whose 'axes' attribute became an input, and the opset where it happened.
    private static readonly Dictionary<string, int> AxesBecameInput = new()
    {
        ["Squeeze"] = 13,
        ["Unsqueeze"] = 13,
        ["ReduceSum"] = 13,
        ["ReduceMean"] = 18,
        ["ReduceMax"] = 18,
        ["ReduceMin"] = 18,
        ["ReduceProd"] = 18,
        ["ReduceL1"] = 18,
        ["ReduceL2"] = 18,
        ["ReduceLogSum"] = 18,
        ["ReduceLogSumExp"] = 18,
        ["ReduceSumSquare"] = 18,
    };

    /// <summary>Rewrites the default-domain nodes of <paramref name="graph"/> from opset <paramref name="from"/> to <paramref name="to"/>.</summary>
    /// <param name="graph">The graph; changed in place.</param>
    /// <param name="from">Its current opset.</param>
    /// <param name="to">The target opset, at least <paramref name="from"/>.</param>
    /// <param name="taken">Names in use (in both graphs), for new constant inputs; names added are recorded in it.</param>
    /// <param name="where">File or description, for errors.</param>
    /// <exception cref="MLTransferException">A node cannot be moved without changing what it computes.</exception>
    public static void Upgrade(GraphProto graph, long from, long to, HashSet<string> taken, string where)
    {
        if (to <= from)
            return;
        if (from < 7)
            throw Refused(null, from, to, "graphs older than opset 7 (before multidirectional broadcasting) are not upgraded", where);
        var index = new OnnxGraphIndex(graph);
        foreach (var node in graph.Node.ToList())
        {
            if (!OnnxGraphIndex.IsDefaultDomain(node) || Stable.Contains(node.OpType))
                continue;
            switch (node.OpType)
            {
                case "Split" when to >= 13 && from < 13:
                    AttributeToInput(graph, node, "split", 1, taken);
                    break;
                case "Split":
                    break;
                case var op when AxesBecameInput.TryGetValue(op, out var at):
                    if (to >= at && from < at)
                        AttributeToInput(graph, node, "axes", 1, taken);
                    break;
                case "BatchNormalization":
                    // Opset 9 dropped 'spatial': spatial=1 (per-channel statistics) is what every later version does.
                    var spatial = node.Attribute.FirstOrDefault(a => a.Name == "spatial");
                    if (spatial is not null && to >= 9)
                    {
                        if (spatial.I != 1)
                            throw Refused(node, from, to, "spatial=0 (per-element statistics) has no equivalent after opset 8", where);
                        node.Attribute.Remove(spatial);
                    }
                    break;
                case "Clip" when to >= 11 && from < 11:
                    ClipBoundsToInputs(graph, node, taken);
                    break;
                case "Clip":
                    break;
                case "Dropout":
                    // At inference Dropout passes its input through; Identity says so in every opset.
                    if (node.Output.Count > 1 && node.Output.Skip(1).Any(o => o.Length > 0 && index.Graph.Node.Any(n => n.Input.Contains(o))))
                        throw Refused(node, from, to, "its mask output is used", where);
                    node.OpType = "Identity";
                    node.Attribute.Clear();
                    while (node.Output.Count > 1) node.Output.RemoveAt(node.Output.Count - 1);
                    while (node.Input.Count > 1) node.Input.RemoveAt(node.Input.Count - 1);
                    break;
                case "Softmax" or "LogSoftmax" or "Hardmax" when to >= 13 && from < 13:
                    // Before 13 these flattened the input to 2-D at 'axis'; from 13 they work along one axis. The two agree
                    // only on 2-D inputs.
                    if (!index.Declared.TryGetValue(node.Input[0], out var vi) || OnnxShapes.Dims(vi) is not { Count: 2 })
                        throw Refused(node, from, to, "its meaning changed at opset 13 for inputs that are not 2-D, and the input's rank is not declared as 2", where);
                    break;
                case "Softmax" or "LogSoftmax" or "Hardmax":
                    break;
                default:
                    throw Refused(node, from, to, "MLTransfer does not know how its definition changed between these opsets", where);
            }
        }
    }

    private static void AttributeToInput(GraphProto graph, NodeProto node, string attribute, int position, HashSet<string> taken)
    {
        var attr = node.Attribute.FirstOrDefault(a => a.Name == attribute);
        if (attr is null)
            return; // absent: the input is optional with the same default
        var name = OnnxShapes.Unique(taken, $"{(node.Name.Length > 0 ? node.Name : node.Output[0])}_{attribute}");
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.Add(attr.Ints.Count);
        tensor.Int64Data.AddRange(attr.Ints);
        graph.Initializer.Add(tensor);
        while (node.Input.Count < position)
            node.Input.Add("");
        node.Input.Insert(position, name);
        node.Attribute.Remove(attr);
    }

    private static void ClipBoundsToInputs(GraphProto graph, NodeProto node, HashSet<string> taken)
    {
        var min = node.Attribute.FirstOrDefault(a => a.Name == "min");
        var max = node.Attribute.FirstOrDefault(a => a.Name == "max");
        string Scalar(AttributeProto a)
        {
            var name = OnnxShapes.Unique(taken, $"{(node.Name.Length > 0 ? node.Name : node.Output[0])}_{a.Name}");
            graph.Initializer.Add(OnnxShapes.FloatTensor(name, [], [a.F]));
            node.Attribute.Remove(a);
            return name;
        }
        var minName = min is null ? "" : Scalar(min);
        var maxName = max is null ? "" : Scalar(max);
        if (maxName.Length > 0)
            node.Input.AddRange([minName, maxName]);
        else if (minName.Length > 0)
            node.Input.Add(minName);
    }

    private static MLTransferException Refused(NodeProto? node, long from, long to, string reason, string where) =>
        new($"Cannot move {(node is null ? "the graph" : $"node '{OnnxShapes.Describe(node)}' ({node.OpType})")} from opset {from} to opset {to}: {reason}",
            where, "Combine graphs written for the same opset, or convert the older one with onnx.version_converter first");
}
