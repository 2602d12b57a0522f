namespace MLTransfer.Backbones.Onnx;

/// <summary>
/// Lookup tables over one graph: who produces each value, which values are constants, and what type
/// each value is declared with. Built once so that walks over the graph stay linear.
/// </summary>
internal sealed class OnnxGraphIndex
{
    public OnnxGraphIndex(GraphProto graph)
    {
        Graph = graph;
        foreach (var init in graph.Initializer)
            Initializers[init.Name] = init;
        foreach (var node in graph.Node)
        {
            foreach (var output in node.Output)
                if (output.Length > 0)
                    Producers[output] = node;
            // Constant nodes are as constant as initializers for the purpose of telling weights from data.
            if (node.OpType == "Constant" && IsDefaultDomain(node) && node.Output.Count == 1)
            {
                var value = node.Attribute.FirstOrDefault(a => a.Name == "value");
                if (value?.T is not null)
                    ConstantNodeTensors[node.Output[0]] = value.T;
            }
        }
        // Later entries win: graph inputs/outputs are the most authoritative declarations.
        foreach (var vi in graph.ValueInfo)
            Declared[vi.Name] = vi;
        foreach (var vi in graph.Output)
            Declared[vi.Name] = vi;
        foreach (var vi in graph.Input)
            Declared[vi.Name] = vi;
    }

    public GraphProto Graph { get; }
    public Dictionary<string, NodeProto> Producers { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, TensorProto> Initializers { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, TensorProto> ConstantNodeTensors { get; } = new(StringComparer.Ordinal);
    public Dictionary<string, ValueInfoProto> Declared { get; } = new(StringComparer.Ordinal);

    public bool IsConstant(string name) =>
        Initializers.ContainsKey(name) || ConstantNodeTensors.ContainsKey(name);

    public TensorProto? ConstantTensor(string name) =>
        Initializers.TryGetValue(name, out var t) ? t
        : ConstantNodeTensors.TryGetValue(name, out var c) ? c
        : null;

    /// <summary>Graph inputs that are real inputs, not default values of initializers.</summary>
    public IEnumerable<ValueInfoProto> RealInputs =>
        Graph.Input.Where(i => !Initializers.ContainsKey(i.Name));

    public static bool IsDefaultDomain(NodeProto node) =>
        node.Domain.Length == 0 || node.Domain == "ai.onnx";

    /// <summary>Every value name used anywhere in the graph, to avoid collisions when adding names.</summary>
    public HashSet<string> AllNames()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var n in Graph.Node)
        {
            names.UnionWith(n.Input);
            names.UnionWith(n.Output);
            if (n.Name.Length > 0) names.Add(n.Name);
        }
        names.UnionWith(Graph.Input.Select(i => i.Name));
        names.UnionWith(Graph.Output.Select(i => i.Name));
        names.UnionWith(Graph.ValueInfo.Select(i => i.Name));
        names.UnionWith(Graph.Initializer.Select(i => i.Name));
        return names;
    }
}

/// <summary>Small helpers to read and build ONNX types, shapes and tensors.</summary>
internal static class OnnxShapes
{
    /// <summary>Dimensions of a declared tensor, or null if its type or shape is not declared.</summary>
    public static IReadOnlyList<TensorShapeProto.Types.Dimension>? Dims(ValueInfoProto? vi) =>
        vi?.Type?.TensorType?.Shape?.Dim;

    public static int? ElemType(ValueInfoProto? vi) =>
        vi?.Type?.TensorType is { HasElemType: true } t ? t.ElemType : null;

    public static long? StaticValue(TensorShapeProto.Types.Dimension d) =>
        d.ValueCase == TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue && d.DimValue > 0 ? d.DimValue : null;

    public static string Format(TensorShapeProto.Types.Dimension d) => d.ValueCase switch
    {
        TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue => d.DimValue.ToString(System.Globalization.CultureInfo.InvariantCulture),
        TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam => d.DimParam,
        _ => "?",
    };

    public static string FormatShape(ValueInfoProto? vi)
    {
        var dims = Dims(vi);
        return dims is null ? "[unknown shape]" : "[" + string.Join(",", dims.Select(Format)) + "]";
    }

    public static string ElemTypeName(int? elemType) => elemType switch
    {
        null => "unknown",
        (int)TensorProto.Types.DataType.Float => "float32",
        (int)TensorProto.Types.DataType.Uint8 => "uint8",
        (int)TensorProto.Types.DataType.Int8 => "int8",
        (int)TensorProto.Types.DataType.Uint16 => "uint16",
        (int)TensorProto.Types.DataType.Int16 => "int16",
        (int)TensorProto.Types.DataType.Int32 => "int32",
        (int)TensorProto.Types.DataType.Int64 => "int64",
        (int)TensorProto.Types.DataType.String => "string",
        (int)TensorProto.Types.DataType.Bool => "bool",
        (int)TensorProto.Types.DataType.Float16 => "float16",
        (int)TensorProto.Types.DataType.Double => "float64",
        (int)TensorProto.Types.DataType.Uint32 => "uint32",
        (int)TensorProto.Types.DataType.Uint64 => "uint64",
        (int)TensorProto.Types.DataType.Bfloat16 => "bfloat16",
        var other => $"type {other}",
    };

    public static TensorShapeProto.Types.Dimension Dim(long value) => new() { DimValue = value };
    public static TensorShapeProto.Types.Dimension Dim(string param) => new() { DimParam = param };

    public static ValueInfoProto TensorValue(string name, int elemType, params TensorShapeProto.Types.Dimension[] dims)
    {
        var shape = new TensorShapeProto();
        shape.Dim.AddRange(dims);
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = elemType, Shape = shape } },
        };
    }

    /// <summary>A float initializer stored as raw little-endian bytes, the form ONNX exporters use.</summary>
    public static TensorProto FloatTensor(string name, long[] dims, ReadOnlySpan<float> values)
    {
        var bytes = new byte[values.Length * sizeof(float)];
        for (var i = 0; i < values.Length; i++)
            System.Buffers.Binary.BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * 4), values[i]);
        var t = new TensorProto
        {
            Name = name,
            DataType = (int)TensorProto.Types.DataType.Float,
            RawData = Google.Protobuf.ByteString.CopyFrom(bytes),
        };
        t.Dims.AddRange(dims);
        return t;
    }

    public static AttributeProto IntAttribute(string name, long value) =>
        new() { Name = name, I = value, Type = AttributeProto.Types.AttributeType.Int };

    public static long? IntAttr(NodeProto node, string name) =>
        node.Attribute.FirstOrDefault(a => a.Name == name) is { HasI: true } a ? a.I : null;

    public static IReadOnlyList<long>? IntsAttr(NodeProto node, string name) =>
        node.Attribute.FirstOrDefault(a => a.Name == name)?.Ints;

    /// <summary>Human name for a node: ONNX node names are optional, so fall back to what it computes.</summary>
    public static string Describe(NodeProto node) =>
        node.Name.Length > 0 ? node.Name : $"{node.OpType} -> {string.Join(",", node.Output)}";

    /// <summary>Returns <paramref name="wanted"/>, or it with a numeric suffix if that name is taken.</summary>
    public static string Unique(HashSet<string> taken, string wanted)
    {
        var name = wanted;
        for (var i = 1; taken.Contains(name); i++)
            name = $"{wanted}_{i}";
        taken.Add(name);
        return name;
    }
}
