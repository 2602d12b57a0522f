using System.Security.Cryptography;
using System.Text;
using Google.Protobuf;
using MLTransfer.Backbones.Onnx;

namespace MLTransfer.Backbones;

/// <summary>
/// Builds one prepared backbone from several: the concatenation of members' features (each L2-normalised
/// first, so a backbone with larger activations does not drown the others), and flip test-time augmentation
/// (features of the image and of its mirror, averaged). The result is an ordinary prepared graph (pixels in,
/// features out), so the saved chain, the verified loader and the fused export handle it unchanged.
/// </summary>
/// <remarks>
/// Training never runs these graphs: it combines the members' cached features the same way
/// (<see cref="Combine"/>), and a test holds the two to agreement.
/// </remarks>
internal static class CompositeGraph
{
    private const int FloatType = (int)TensorProto.Types.DataType.Float;
    private const int Int64Type = (int)TensorProto.Types.DataType.Int64;

    /// <summary>The graph that <paramref name="spec"/> describes, from its members' prepared graphs (in spec order).</summary>
    /// <exception cref="MLTransferException">The members do not take the same input, or a flip needs a batch the graph pins.</exception>
    public static PreparedBackbone Build(BackboneSpec spec, IReadOnlyList<PreparedBackbone> members, IReadOnlyList<string> memberSha256)
    {
        var first = members[0];
        foreach (var m in members.Skip(1))
            if (m.InputWidth != first.InputWidth || m.InputHeight != first.InputHeight || m.ChannelOrder != first.ChannelOrder || m.Description.ResizeMode != first.Description.ResizeMode)
                throw new MLTransferException(
                    $"'{m.Description.Name}' takes {m.InputWidth}×{m.InputHeight} {m.Description.ResizeMode} {m.ChannelOrder} images and '{first.Description.Name}' takes {first.InputWidth}×{first.InputHeight} {first.Description.ResizeMode} {first.ChannelOrder}",
                    spec.ToString(), "Combine backbones that take the same input size, resize mode and channel order (see 'mltransfer backbones list')");
        var models = members.Select((m, i) => Renamed(OnnxModelIO.Parse(m.OnnxBytes, m.Description.Name), $"m{i}/")).ToList();
        var opset = models.Max(OnnxGraphCombiner.DefaultOpset);
        var graph = new GraphProto { Name = "mltransfer_" + spec };
        var taken = new HashSet<string>(StringComparer.Ordinal) { PreparedBackbone.InputName, PreparedBackbone.OutputName };
        foreach (var model in models)
        {
            var from = OnnxGraphCombiner.DefaultOpset(model);
            if (from < opset)
                OnnxOpsetUpgrade.Upgrade(model.Graph, from, opset, taken, spec.ToString());
            taken.UnionWith(new OnnxGraphIndex(model.Graph).AllNames());
        }

        // A member that pins its batch size pins the composite's; the mirrored batch doubles it, so a flip needs a free one.
        var pinned = members.Select(m => m.FixedBatchSize).FirstOrDefault(b => b is not null);
        if (pinned is not null && spec.FlipAveraged)
            throw new MLTransferException($"Flip test-time augmentation runs the image and its mirror as one batch, but a member of '{spec}' only takes batches of {pinned}",
                spec.ToString(), "Drop 'tta:' for this backbone");
        var batch = pinned is { } b ? OnnxShapes.Dim(b) : OnnxShapes.Dim("N");
        var input = spec.FlipAveraged ? Flip(graph, first) : PreparedBackbone.InputName;
        var outputs = new List<string>();
        for (var i = 0; i < models.Count; i++)
        {
            var g = models[i].Graph;
            foreach (var node in g.Node)
                for (var k = 0; k < node.Input.Count; k++)
                    if (node.Input[k] == PreparedBackbone.InputName)
                        node.Input[k] = input;
            graph.Node.AddRange(g.Node);
            graph.Initializer.AddRange(g.Initializer);
            // Members' value_info is left out: it names the batch dimension, which a flip doubles, and ONNX
            // Runtime infers the shapes anyway. Initializers listed as inputs (IR < 4) are constants here.
            var constants = g.Initializer.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
            graph.Input.AddRange(g.Input.Where(v => v.Name != PreparedBackbone.InputName && !constants.Contains(v.Name)));
            outputs.Add(Prefixed($"m{i}/", PreparedBackbone.OutputName));
        }
        var features = outputs[0];
        if (outputs.Count > 1)
        {
            var normalised = outputs.Select(o =>
            {
                var n = Node("LpNormalization", o + "/l2", [o], o + "/normalised");
                n.Attribute.Add(OnnxShapes.IntAttribute("axis", 1));
                n.Attribute.Add(OnnxShapes.IntAttribute("p", 2));
                graph.Node.Add(n);
                return n.Output[0];
            }).ToList();
            var concat = Node("Concat", "mltransfer_concat", normalised.ToArray(), "mltransfer_concatenated");
            concat.Attribute.Add(OnnxShapes.IntAttribute("axis", 1));
            graph.Node.Add(concat);
            features = concat.Output[0];
        }
        var width = members.Sum(m => m.FeatureSize);
        if (spec.FlipAveraged)
            features = AverageHalves(graph, features, width, opset);
        graph.Node.Add(Node("Identity", "mltransfer_composite_output", [features], PreparedBackbone.OutputName));

        graph.Input.Insert(0, OnnxShapes.TensorValue(PreparedBackbone.InputName, FloatType, batch, OnnxShapes.Dim(3), OnnxShapes.Dim(first.InputHeight), OnnxShapes.Dim(first.InputWidth)));
        graph.Output.Add(OnnxShapes.TensorValue(PreparedBackbone.OutputName, FloatType, batch.Clone(), OnnxShapes.Dim(width)));

        var model0 = new ModelProto
        {
            IrVersion = Math.Max(7, models.Max(m => m.IrVersion)),
            ProducerName = "MLTransfer",
            ProducerVersion = "composite backbone 1",
            Graph = graph,
        };
        model0.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        var sha = Sha256Of(spec, memberSha256);
        var description = Describe(spec, members, width);
        new PreparationStamp(sha, first.InputWidth, first.InputHeight, first.Description.ResizeMode, first.ChannelOrder, description.Mean, description.Std, width).WriteTo(model0);
        model0.MetadataProps.Add(new StringStringEntryProto { Key = "mltransfer.composite", Value = $"{spec}: members {string.Join(", ", members.Select((m, i) => $"{m.Description.Name} ({memberSha256[i]})"))}" });
        return new PreparedBackbone(description, model0.ToByteArray(), new FeatureTensorInfo(PreparedBackbone.OutputName, null, null, width, false, HeadlessOutput: true),
            width, first.InputWidth, first.InputHeight, first.ChannelOrder, PreparedBackbone.InputName);
    }

    /// <summary>
    /// The features <see cref="Build"/>'s graph computes, from the members' own features: each member's plain
    /// and (when flip-averaged) mirrored features, in spec order.
    /// </summary>
    public static float[] Combine(BackboneSpec spec, IReadOnlyList<float[]> plain, IReadOnlyList<float[]>? mirrored)
    {
        var features = Concatenate(plain, normalise: plain.Count > 1);
        if (!spec.FlipAveraged)
            return features;
        var flipped = Concatenate(mirrored!, normalise: plain.Count > 1);
        for (var i = 0; i < features.Length; i++)
            features[i] = (features[i] + flipped[i]) / 2;
        return features;
    }

    /// <summary>
    /// The identity of a composite: a digest of its spec and its members' file hashes. It stands where a single
    /// backbone's file hash stands (metadata, preparation stamp), so a zip's metadata is checked the same way.
    /// </summary>
    public static string Sha256Of(BackboneSpec spec, IReadOnlyList<string> memberSha256) =>
        Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{spec}\n{string.Join('\n', memberSha256)}")));

    private static float[] Concatenate(IReadOnlyList<float[]> parts, bool normalise)
    {
        var result = new float[parts.Sum(p => p.Length)];
        var at = 0;
        foreach (var p in parts)
        {
            double sum = 0;
            foreach (var v in p)
                sum += (double)v * v;
            // LpNormalization divides by the norm as it is; a zero vector stays zero here and is NaN there,
            // which never happens with post-ReLU features of a real image.
            var scale = normalise && sum > 0 ? (float)(1 / Math.Sqrt(sum)) : 1f;
            for (var i = 0; i < p.Length; i++)
                result[at + i] = p[i] * scale;
            at += p.Length;
        }
        return result;
    }

    private static BackboneDescription Describe(BackboneSpec spec, IReadOnlyList<PreparedBackbone> members, int width)
    {
        var first = members[0].Description;
        // Each member folds its own normalisation into its graph; the composite takes raw 0..255 pixels.
        return new BackboneDescription
        {
            Name = spec.ToString(),
            Family = "composite",
            FileName = spec.ToString(),
            InputWidth = members[0].InputWidth,
            InputHeight = members[0].InputHeight,
            ResizeMode = first.ResizeMode,
            ChannelOrder = members[0].ChannelOrder,
            Mean = [0f, 0f, 0f],
            Std = [1f / 255, 1f / 255, 1f / 255],
            FeatureTensor = PreparedBackbone.OutputName,
            FeatureSize = width,
            Licence = string.Join(", ", members.Select(m => m.Description.Licence).Where(l => l is not null).Distinct()),
            Source = $"built by MLTransfer from {string.Join(", ", members.Select(m => m.Description.Name))}" + (spec.FlipAveraged ? ", features averaged with the mirror image's" : ""),
        };
    }

    /// <summary>Stacks the image batch and its mirror (Gather along the width in reverse): [2N, 3, H, W].</summary>
    private static string Flip(GraphProto graph, PreparedBackbone first)
    {
        var w = first.InputWidth;
        var reverse = new TensorProto { Name = "mltransfer_flip_indices", DataType = Int64Type };
        reverse.Dims.Add(w);
        var bytes = new byte[8 * w];
        for (var x = 0; x < w; x++)
            BitConverter.TryWriteBytes(bytes.AsSpan(8 * x), (long)(w - 1 - x));
        reverse.RawData = ByteString.CopyFrom(bytes);
        graph.Initializer.Add(reverse);
        var gather = Node("Gather", "mltransfer_flip", [PreparedBackbone.InputName, reverse.Name], "mltransfer_mirrored");
        gather.Attribute.Add(OnnxShapes.IntAttribute("axis", 3));
        graph.Node.Add(gather);
        var stack = Node("Concat", "mltransfer_stack", [PreparedBackbone.InputName, gather.Output[0]], "mltransfer_stacked");
        stack.Attribute.Add(OnnxShapes.IntAttribute("axis", 0));
        graph.Node.Add(stack);
        return stack.Output[0];
    }

    /// <summary>[2N, F] → the mean of its two halves, [N, F].</summary>
    private static string AverageHalves(GraphProto graph, string features, int width, long opset)
    {
        var shape = new TensorProto { Name = "mltransfer_halves_shape", DataType = Int64Type };
        shape.Dims.Add(3);
        var bytes = new byte[24];
        BitConverter.TryWriteBytes(bytes.AsSpan(0), 2L);
        BitConverter.TryWriteBytes(bytes.AsSpan(8), -1L);
        BitConverter.TryWriteBytes(bytes.AsSpan(16), (long)width);
        shape.RawData = ByteString.CopyFrom(bytes);
        graph.Initializer.Add(shape);
        graph.Node.Add(Node("Reshape", "mltransfer_halves", [features, shape.Name], "mltransfer_halves"));
        NodeProto mean;
        if (opset >= 18)
        {
            var axes = new TensorProto { Name = "mltransfer_mean_axes", DataType = Int64Type };
            axes.Dims.Add(1);
            axes.RawData = ByteString.CopyFrom(new byte[8]);
            graph.Initializer.Add(axes);
            mean = Node("ReduceMean", "mltransfer_mean", ["mltransfer_halves", axes.Name], "mltransfer_flip_averaged");
        }
        else
        {
            mean = Node("ReduceMean", "mltransfer_mean", ["mltransfer_halves"], "mltransfer_flip_averaged");
            mean.Attribute.Add(new AttributeProto { Name = "axes", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 0 } });
        }
        mean.Attribute.Add(OnnxShapes.IntAttribute("keepdims", 0));
        graph.Node.Add(mean);
        return mean.Output[0];
    }

    /// <summary>A copy of the model with every name but the image input prefixed, so members cannot clash.</summary>
    private static ModelProto Renamed(ModelProto model, string prefix)
    {
        var g = model.Graph;
        string Map(string name) => name.Length == 0 || name == PreparedBackbone.InputName ? name : Prefixed(prefix, name);
        foreach (var node in g.Node)
        {
            for (var i = 0; i < node.Input.Count; i++) node.Input[i] = Map(node.Input[i]);
            for (var i = 0; i < node.Output.Count; i++) node.Output[i] = Map(node.Output[i]);
            node.Name = Prefixed(prefix, node.Name.Length > 0 ? node.Name : node.OpType);
            // Subgraphs (If/Loop bodies) are not renamed: image backbones do not use them.
            if (node.Attribute.Any(a => a.G is not null || a.Graphs.Count > 0))
                throw new MLTransferException($"Node '{node.Name}' has a subgraph, which composite backbones do not support", null, "Use these backbones one at a time");
        }
        foreach (var t in g.Initializer) t.Name = Map(t.Name);
        foreach (var vi in g.Input.Concat(g.Output).Concat(g.ValueInfo)) vi.Name = Map(vi.Name);
        return model;
    }

    private static string Prefixed(string prefix, string name) => prefix + name;

    private static NodeProto Node(string op, string name, string[] inputs, string output)
    {
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        return node;
    }
}
