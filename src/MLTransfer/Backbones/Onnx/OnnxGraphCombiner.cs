namespace MLTransfer.Backbones.Onnx;

/// <summary>What <see cref="OnnxGraphCombiner.Combine"/> produced and the decisions it took.</summary>
/// <param name="Model">The combined model.</param>
/// <param name="Opset">The default-domain opset of the combined model.</param>
/// <param name="RenamedNames">Names of the first graph that were renamed because the second graph uses them.</param>
/// <param name="BatchNote">How the batch dimension was treated, as one sentence for logs and metadata.</param>
/// <param name="DynamicBatch">Whether the combined input takes any batch size.</param>
internal sealed record CombinedGraph(ModelProto Model, long Opset, IReadOnlyList<string> RenamedNames, string BatchNote, bool DynamicBatch);

/// <summary>
/// Joins two ONNX graphs into one model: the single output of the first feeds the image input of the second
/// (e.g. ML.NET's ResNet preprocessing graph in front of the headless ResNet-18).
/// </summary>
/// <remarks>
/// One file is what the rest of MLTransfer handles (preparation, the feature cache key, ML.NET's ONNX transform, the
/// fused export). Names of the first graph that the second also uses are renamed, the older opset is moved to the
/// newer one (<see cref="OnnxOpsetUpgrade"/>), and a fixed batch size is freed when no node depends on it
/// (<see cref="BatchDimension"/>).
/// </remarks>
internal static class OnnxGraphCombiner
{
    /// <summary>Key of the <c>metadata_props</c> entry describing the combination.</summary>
    public const string MetadataKey = "mltransfer.combined";

    /// <summary>Combines <paramref name="first"/> → <paramref name="second"/>.</summary>
    /// <param name="first">The graph run first; it must have one input and one output.</param>
    /// <param name="second">The graph run on the first one's output; its image input receives that output.</param>
    /// <param name="description">What the two graphs are, recorded in the combined model's metadata.</param>
    /// <param name="where">File or package, for errors.</param>
    /// <exception cref="MLTransferException">The graphs do not fit together.</exception>
    public static CombinedGraph Combine(ModelProto first, ModelProto second, string description, string where)
    {
        first = first.Clone();
        second = second.Clone();
        var a = first.Graph;
        var b = second.Graph;
        var aIndex = new OnnxGraphIndex(a);
        var bIndex = new OnnxGraphIndex(b);
        var aInputs = aIndex.RealInputs.ToList();
        if (aInputs.Count != 1 || a.Output.Count != 1)
            throw new MLTransferException(
                $"The first graph '{a.Name}' has {aInputs.Count} input(s) and {a.Output.Count} output(s); joining needs exactly one of each",
                where, "Use a preprocessing graph with one input and one output");
        var bInput = FeatureTensorDetector.FindImageInput(bIndex, null, where);
        var aOutput = a.Output[0];
        CheckShapesMatch(aOutput, bInput, where);

        // One opset per domain in a model: the older graph is moved up to the newer one.
        var opsetA = DefaultOpset(first);
        var opsetB = DefaultOpset(second);
        var opset = Math.Max(opsetA, opsetB);
        foreach (var other in first.OpsetImport.Where(o => !IsDefault(o)))
        {
            var same = second.OpsetImport.FirstOrDefault(o => o.Domain == other.Domain);
            if (same is not null && same.Version != other.Version)
                throw new MLTransferException(
                    $"The two graphs import domain '{other.Domain}' at different versions ({other.Version} and {same.Version})", where,
                    "Combine graphs that use the same version of every non-standard domain");
        }

        // Rename every name of the first graph the second one also uses, then wire the first output to the second input.
        var taken = bIndex.AllNames();
        var renamed = new List<string>();
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var name in aIndex.AllNames().Where(n => n.Length > 0).Order(StringComparer.Ordinal))
        {
            if (taken.Contains(name))
            {
                values[name] = OnnxShapes.Unique(taken, "preprocess/" + name);
                renamed.Add(name);
            }
        }
        string Map(string name) => name.Length > 0 && values.TryGetValue(name, out var to) ? to : name;
        foreach (var node in a.Node)
        {
            for (var i = 0; i < node.Input.Count; i++) node.Input[i] = Map(node.Input[i]);
            for (var i = 0; i < node.Output.Count; i++) node.Output[i] = Map(node.Output[i]);
            if (node.Name.Length > 0) node.Name = Map(node.Name);
        }
        foreach (var t in a.Initializer) t.Name = Map(t.Name);
        foreach (var vi in a.Input.Concat(a.Output).Concat(a.ValueInfo)) vi.Name = Map(vi.Name);

        var joint = aOutput.Name;
        foreach (var node in a.Node)
        {
            for (var i = 0; i < node.Input.Count; i++)
                if (node.Input[i] == joint) node.Input[i] = bInput.Name;
            for (var i = 0; i < node.Output.Count; i++)
                if (node.Output[i] == joint) node.Output[i] = bInput.Name;
        }

        if (opsetA < opset)
            OnnxOpsetUpgrade.Upgrade(a, opsetA, opset, taken, where);
        if (opsetB < opset)
            OnnxOpsetUpgrade.Upgrade(b, opsetB, opset, taken, where);

        var graph = new GraphProto
        {
            Name = $"{a.Name}+{b.Name}",
            DocString = description,
        };
        graph.Node.AddRange(a.Node);
        graph.Node.AddRange(b.Node);
        graph.Initializer.AddRange(a.Initializer);
        graph.Initializer.AddRange(b.Initializer);
        // Inputs: the first graph's image, then any initializer-backed inputs (old IR versions list weights there).
        graph.Input.AddRange(a.Input);
        graph.Input.AddRange(b.Input.Where(i => i.Name != bInput.Name));
        graph.Output.AddRange(b.Output);
        graph.ValueInfo.AddRange(a.ValueInfo.Where(v => v.Name != joint && v.Name != bInput.Name));
        graph.ValueInfo.Add(bInput);
        graph.ValueInfo.AddRange(b.ValueInfo.Where(v => v.Name != bInput.Name));

        var imageInput = aInputs[0].Name; // already renamed in place
        var pin = BatchDimension.TryFree(graph, imageInput);
        var input = graph.Input.Single(i => i.Name == imageInput);
        var dynamic = OnnxShapes.Dims(input) is { Count: > 0 } dims && OnnxShapes.StaticValue(dims[0]) is null;
        var batchNote = pin is null
            ? dynamic ? "the batch dimension is dynamic: no node of either graph depends on the batch size" : "the batch dimension is not declared"
            : $"the batch size stays fixed at {OnnxShapes.Format(OnnxShapes.Dims(input)![0])}: {pin}";

        var model = new ModelProto
        {
            IrVersion = Math.Max(first.IrVersion, second.IrVersion),
            ProducerName = "MLTransfer",
            ProducerVersion = "graph combiner 1",
            Graph = graph,
            DocString = description,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        foreach (var o in first.OpsetImport.Concat(second.OpsetImport).Where(o => !IsDefault(o)).DistinctBy(o => o.Domain))
            model.OpsetImport.Add(o.Clone());
        model.MetadataProps.AddRange(first.MetadataProps.Concat(second.MetadataProps).DistinctBy(p => p.Key).Select(p => p.Clone()));
        model.MetadataProps.Add(new StringStringEntryProto
        {
            Key = MetadataKey,
            Value = $"{description}; opset {opsetA} + {opsetB} -> {opset}; {renamed.Count} name(s) of the first graph renamed; {batchNote}",
        });
        return new CombinedGraph(model, opset, renamed, batchNote, dynamic);
    }

    private static void CheckShapesMatch(ValueInfoProto output, ValueInfoProto input, string where)
    {
        var o = OnnxShapes.Dims(output);
        var i = OnnxShapes.Dims(input);
        if (o is null || i is null)
            return;
        var clash = o.Count != i.Count || o.Zip(i).Skip(1).Any(p => OnnxShapes.StaticValue(p.First) is { } x && OnnxShapes.StaticValue(p.Second) is { } y && x != y);
        if (clash || OnnxShapes.ElemType(output) is { } te && OnnxShapes.ElemType(input) is { } ti && te != ti)
            throw new MLTransferException(
                $"The first graph's output '{output.Name}' {OnnxShapes.ElemTypeName(OnnxShapes.ElemType(output))} {OnnxShapes.FormatShape(output)} does not fit " +
                $"the second graph's input '{input.Name}' {OnnxShapes.ElemTypeName(OnnxShapes.ElemType(input))} {OnnxShapes.FormatShape(input)}",
                where, "Combine a preprocessing graph with the model it was written for");
    }

    private static bool IsDefault(OperatorSetIdProto o) => o.Domain.Length == 0 || o.Domain == "ai.onnx";

    /// <summary>The model's opset of the default ONNX domain (1 when it names none).</summary>
    internal static long DefaultOpset(ModelProto m) =>
        m.OpsetImport.Where(IsDefault).Select(o => o.Version).DefaultIfEmpty(1).Max();
}
