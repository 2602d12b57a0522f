using System.Text.Json;
using MLTransfer.Backbones;
using MLTransfer.Backbones.Onnx;

namespace MLTransfer.Heads;

/// <summary>
/// Expresses a classification head as a small ONNX graph:
/// <c>LpNormalization → Gemm [→ Relu → Gemm]… → Softmax</c>, plus the arg-max class index.
/// ML.NET runs it with the stock <c>ApplyOnnxModel</c>, so a saved model needs no custom transform
/// registration, and <see cref="Export.FusedOnnxExporter"/> appends the same nodes to the backbone graph.
/// </summary>
internal static class OnnxHeadExporter
{
    /// <summary>The head's input: the backbone's feature output, float <c>[N, F]</c>.</summary>
    public const string InputName = PreparedBackbone.OutputName;
    /// <summary>Class probabilities, float <c>[N, K]</c>, in class-name order.</summary>
    public const string ProbabilitiesName = "mltransfer_probabilities";
    /// <summary>Scores before the softmax, float <c>[N, K]</c>: what ML.NET's stock multiclass scorer takes in a TransferImageClassification chain.</summary>
    public const string LogitsName = "mltransfer_head_logits";
    /// <summary>Index of the most probable class, int64 <c>[N]</c>.</summary>
    public const string PredictedIndexName = "mltransfer_predicted_index";
    /// <summary><c>metadata_props</c> key marking a head graph; its value describes the head.</summary>
    public const string HeadMetadataKey = "mltransfer.head";
    /// <summary><c>metadata_props</c> key holding the class names as a JSON array, in score order.</summary>
    public const string ClassNamesMetadataKey = "mltransfer.class_names";

    private const int FloatType = (int)TensorProto.Types.DataType.Float;
    private const int Int64Type = (int)TensorProto.Types.DataType.Int64;
    private const long Opset = 13;

    /// <summary>The ONNX bytes of a trained <see cref="HeadNetwork"/>.</summary>
    public static byte[] Build(HeadNetwork network, IReadOnlyList<string> classNames) =>
        Build(network.Layers, network.InputScale, classNames, network.Layers.Count == 1 ? "softmax" : $"mlp {string.Join('-', network.Layers.Take(network.Layers.Count - 1).Select(l => l.Outputs))}");

    /// <summary>
    /// The ONNX bytes of a head made of <paramref name="layers"/> applied to L2-normalised features scaled
    /// to length <paramref name="inputScale"/>, with ReLU between layers and softmax at the end.
    /// </summary>
    /// <param name="layers">Dense layers, input side first.</param>
    /// <param name="inputScale">Length the features are scaled to after normalisation (folded into the first layer).</param>
    /// <param name="classNames">Class names in score order (stored as metadata).</param>
    /// <param name="description">Free text stored with the head (e.g. "softmax", "mlp 256").</param>
    public static byte[] Build(IReadOnlyList<DenseLayer> layers, float inputScale, IReadOnlyList<string> classNames, string description) =>
        OnnxModelIO.Serialize(BuildModel(layers, inputScale, classNames, description));

    internal static ModelProto BuildModel(IReadOnlyList<DenseLayer> layers, float inputScale, IReadOnlyList<string> classNames, string description)
    {
        if (layers.Count == 0 || layers[^1].Outputs != classNames.Count)
            throw new ArgumentException("The last layer must have one output per class name.", nameof(layers));
        var graph = new GraphProto { Name = "mltransfer_head" };
        graph.Input.Add(OnnxShapes.TensorValue(InputName, FloatType, OnnxShapes.Dim("N"), OnnxShapes.Dim(layers[0].Inputs)));
        foreach (var node in Nodes(layers, inputScale, graph.Initializer))
            graph.Node.Add(node);
        graph.Output.Add(OnnxShapes.TensorValue(ProbabilitiesName, FloatType, OnnxShapes.Dim("N"), OnnxShapes.Dim(classNames.Count)));
        graph.Output.Add(OnnxShapes.TensorValue(PredictedIndexName, Int64Type, OnnxShapes.Dim("N")));
        graph.Output.Add(OnnxShapes.TensorValue(LogitsName, FloatType, OnnxShapes.Dim("N"), OnnxShapes.Dim(classNames.Count)));
        var model = new ModelProto
        {
            IrVersion = 7,
            ProducerName = "MLTransfer",
            Graph = graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        model.MetadataProps.Add(new StringStringEntryProto { Key = HeadMetadataKey, Value = description });
        model.MetadataProps.Add(new StringStringEntryProto { Key = ClassNamesMetadataKey, Value = JsonSerializer.Serialize(classNames) });
        return model;
    }

    /// <summary>Class names stored in a head (or fused) graph's metadata, or null.</summary>
    public static IReadOnlyList<string>? ReadClassNames(ModelProto model) =>
        model.MetadataProps.FirstOrDefault(p => p.Key == ClassNamesMetadataKey) is { } entry ? JsonSerializer.Deserialize<string[]>(entry.Value) : null;

    /// <summary>
    /// The head's nodes, reading <see cref="InputName"/> and writing <see cref="ProbabilitiesName"/> and
    /// <see cref="PredictedIndexName"/>; weights are added to <paramref name="initializers"/>. Only ops
    /// unchanged since opset 7 for 2-D inputs are used, so they can join a backbone graph of any modern opset.
    /// </summary>
    internal static IEnumerable<NodeProto> Nodes(IReadOnlyList<DenseLayer> layers, float inputScale, ICollection<TensorProto> initializers)
    {
        var normalise = Node("LpNormalization", "mltransfer_head_lpnorm", [InputName], "mltransfer_head_normalised");
        normalise.Attribute.Add(OnnxShapes.IntAttribute("axis", 1));
        normalise.Attribute.Add(OnnxShapes.IntAttribute("p", 2));
        yield return normalise;
        var current = "mltransfer_head_normalised";
        for (var l = 0; l < layers.Count; l++)
        {
            var layer = layers[l];
            var weights = layer.Weights;
            if (l == 0 && inputScale != 1f)
            {
                // W·(s·x) = (s·W)·x: the scale costs nothing at inference.
                weights = (float[])weights.Clone();
                System.Numerics.Tensors.TensorPrimitives.Multiply(weights, inputScale, weights);
            }
            var w = $"mltransfer_head_w{l}";
            var b = $"mltransfer_head_b{l}";
            initializers.Add(OnnxShapes.FloatTensor(w, [layer.Outputs, layer.Inputs], weights));
            initializers.Add(OnnxShapes.FloatTensor(b, [layer.Outputs], layer.Bias));
            var output = l + 1 < layers.Count ? $"mltransfer_head_z{l}" : LogitsName;
            var gemm = Node("Gemm", $"mltransfer_head_gemm{l}", [current, w, b], output);
            gemm.Attribute.Add(OnnxShapes.IntAttribute("transB", 1));
            yield return gemm;
            current = output;
            if (l + 1 < layers.Count)
            {
                var relu = $"mltransfer_head_a{l}";
                yield return Node("Relu", $"mltransfer_head_relu{l}", [current], relu);
                current = relu;
            }
        }
        var softmax = Node("Softmax", "mltransfer_head_softmax", [current], ProbabilitiesName);
        softmax.Attribute.Add(OnnxShapes.IntAttribute("axis", 1));
        yield return softmax;
        var argmax = Node("ArgMax", "mltransfer_head_argmax", [ProbabilitiesName], PredictedIndexName);
        argmax.Attribute.Add(OnnxShapes.IntAttribute("axis", 1));
        argmax.Attribute.Add(OnnxShapes.IntAttribute("keepdims", 0));
        yield return argmax;
    }

    private static NodeProto Node(string op, string name, string[] inputs, string output)
    {
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        return node;
    }
}
