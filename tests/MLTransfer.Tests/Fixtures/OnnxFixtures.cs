using Google.Protobuf;
using MLTransfer.Backbones.Onnx;

namespace MLTransfer.Tests.Fixtures;

/// <summary>How the tiny classifier ends, to exercise each classifier pattern the detector knows.</summary>
public enum TinyHead
{
    /// <summary>GlobalAveragePool -> Flatten -> Gemm (transB) -> Softmax, as PyTorch exports.</summary>
    Gemm,
    /// <summary>GlobalAveragePool -> 1x1 Conv -> Flatten -> Softmax, as TF-Slim/Caffe models end.</summary>
    Conv1x1,
    /// <summary>GlobalAveragePool -> Flatten -> MatMul -> Add(bias) -> Softmax, as TF converters write.</summary>
    MatMulAdd,
}

/// <summary>
/// Small ONNX graphs built in code with the library's own protobuf classes, so detection and graph
/// surgery are tested on known structures without large files.
/// </summary>
internal static class OnnxFixtures
{
    /// <summary>Name of the image input of the fixtures.</summary>
    public const string InputName = "image";

    private const int Float = (int)TensorProto.Types.DataType.Float;

    /// <summary>
    /// A ResNet-style classifier with seeded random weights:
    /// <c>image [N,3,S,S] -> Conv3x3 -> Relu -> (Conv3x3 -> Relu -> Conv3x3) + skip -> Relu -> GlobalAveragePool -> head -> Softmax</c>.
    /// </summary>
    /// <param name="head">Classifier pattern.</param>
    /// <param name="seed">Seed of the weights.</param>
    /// <param name="width">Channels of the body, i.e. the feature width.</param>
    /// <param name="classes">Number of classes.</param>
    /// <param name="size">Static input height and width.</param>
    /// <param name="declareValueInfo">Whether intermediate shapes are declared in <c>value_info</c>.</param>
    /// <remarks>
    /// Feature tensor: <c>features</c> ([N,width], Flatten output) for Gemm and MatMulAdd;
    /// <c>pooled</c> ([N,width,1,1]) for Conv1x1.
    /// </remarks>
    public static ModelProto TinyResNet(TinyHead head = TinyHead.Gemm, int seed = 1234, int width = 16,
        int classes = 10, int size = 32, bool declareValueInfo = true)
    {
        var rng = new Random(seed);
        var g = new GraphProto { Name = $"tiny_resnet_{head.ToString().ToLowerInvariant()}" };
        g.Input.Add(Value(InputName, Dim("N"), Dim(3), Dim(size), Dim(size)));

        AddConv(g, rng, "stem_conv", InputName, "stem", 3, width, 3);
        g.Node.Add(Node("Relu", "stem_relu", ["stem"], "stem_act"));
        AddConv(g, rng, "block_conv1", "stem_act", "b1", width, width, 3);
        g.Node.Add(Node("Relu", "block_relu1", ["b1"], "b1_act"));
        AddConv(g, rng, "block_conv2", "b1_act", "b2", width, width, 3);
        g.Node.Add(Node("Add", "block_add", ["b2", "stem_act"], "sum"));
        g.Node.Add(Node("Relu", "block_relu2", ["sum"], "block_out"));
        g.Node.Add(Node("GlobalAveragePool", "pool", ["block_out"], "pooled"));

        switch (head)
        {
            case TinyHead.Gemm:
                g.Node.Add(Flatten("flatten", "pooled", "features"));
                g.Initializer.Add(Random(rng, "fc.weight", [classes, width], width));
                g.Initializer.Add(Random(rng, "fc.bias", [classes], width));
                var gemm = Node("Gemm", "fc", ["features", "fc.weight", "fc.bias"], "logits");
                gemm.Attribute.Add(Int("transB", 1));
                g.Node.Add(gemm);
                break;
            case TinyHead.Conv1x1:
                AddConv(g, rng, "fc_conv", "pooled", "logits_map", width, classes, 1);
                g.Node.Add(Flatten("flatten", "logits_map", "logits"));
                break;
            case TinyHead.MatMulAdd:
                g.Node.Add(Flatten("flatten", "pooled", "features"));
                g.Initializer.Add(Random(rng, "fc/MatMul/W", [width, classes], width));
                g.Initializer.Add(Random(rng, "fc/BiasAdd/b", [classes], width));
                g.Node.Add(Node("MatMul", "fc/MatMul", ["features", "fc/MatMul/W"], "fc_mm"));
                g.Node.Add(Node("Add", "fc/BiasAdd", ["fc_mm", "fc/BiasAdd/b"], "logits"));
                break;
        }
        g.Node.Add(Node("Softmax", "softmax", ["logits"], "probs"));
        g.Output.Add(Value("probs", Dim("N"), Dim(classes)));

        if (declareValueInfo)
        {
            g.ValueInfo.Add(Value("block_out", Dim("N"), Dim(width), Dim(size), Dim(size)));
            g.ValueInfo.Add(Value("pooled", Dim("N"), Dim(width), Dim(1), Dim(1)));
            if (head != TinyHead.Conv1x1)
                g.ValueInfo.Add(Value("features", Dim("N"), Dim(width)));
        }
        return Model(g);
    }

    /// <summary>Name of the output of <see cref="TinyHeadless"/>.</summary>
    public const string HeadlessOutput = "embedding";

    /// <summary>
    /// A headless residual backbone like ML.NET's ResNet-18, with seeded random weights and no classifier:
    /// <c>image [B,3,S,S] -> Conv3x3 -> BatchNormalization -> Relu -> (Conv3x3 -> Relu -> Conv3x3) + skip -> Relu -> pool -> embedding [B,width,1,1]</c>.
    /// </summary>
    /// <param name="width">Channels, i.e. the feature width.</param>
    /// <param name="size">Static input height and width.</param>
    /// <param name="globalPool">GlobalAveragePool when true; otherwise an AveragePool whose kernel covers the whole map, as CNTK exports it.</param>
    /// <param name="fixedBatch">A fixed batch size to declare instead of a symbolic N (CNTK exports 1), or null.</param>
    /// <param name="opset">Default-domain opset of the model.</param>
    /// <param name="seed">Seed of the weights.</param>
    public static ModelProto TinyHeadless(int width = 8, int size = 32, bool globalPool = false, int? fixedBatch = null, int opset = 13, int seed = 99)
    {
        var rng = new Random(seed);
        var batch = fixedBatch is { } b ? Dim(b) : Dim("N");
        var g = new GraphProto { Name = "tiny_headless" };
        g.Input.Add(Value(InputName, batch, Dim(3), Dim(size), Dim(size)));
        AddConv(g, rng, "stem_conv", InputName, "stem", 3, width, 3);
        g.Initializer.Add(Uniform(rng, "bn.scale", width, 0.5, 1.5));
        g.Initializer.Add(Uniform(rng, "bn.bias", width, -0.2, 0.2));
        g.Initializer.Add(Uniform(rng, "bn.mean", width, -0.1, 0.1));
        g.Initializer.Add(Uniform(rng, "bn.var", width, 0.5, 2.0));
        var bn = new NodeProto { OpType = "BatchNormalization", Name = "stem_bn" };
        bn.Input.AddRange(["stem", "bn.scale", "bn.bias", "bn.mean", "bn.var"]);
        bn.Output.Add("stem_norm");
        bn.Attribute.Add(new AttributeProto { Name = "epsilon", F = 1e-5f, Type = AttributeProto.Types.AttributeType.Float });
        g.Node.Add(bn);
        g.Node.Add(Node("Relu", "stem_relu", ["stem_norm"], "stem_act"));
        AddConv(g, rng, "block_conv1", "stem_act", "b1", width, width, 3);
        g.Node.Add(Node("Relu", "block_relu1", ["b1"], "b1_act"));
        AddConv(g, rng, "block_conv2", "b1_act", "b2", width, width, 3);
        g.Node.Add(Node("Add", "block_add", ["b2", "stem_act"], "sum"));
        g.Node.Add(Node("Relu", "block_relu2", ["sum"], "block_out"));
        if (globalPool)
        {
            g.Node.Add(Node("GlobalAveragePool", "pool", ["block_out"], HeadlessOutput));
        }
        else
        {
            var pool = Node("AveragePool", "pool", ["block_out"], HeadlessOutput);
            pool.Attribute.Add(Ints("kernel_shape", size, size));
            pool.Attribute.Add(Ints("strides", 1, 1));
            pool.Attribute.Add(Ints("pads", 0, 0, 0, 0));
            g.Node.Add(pool);
        }
        g.Output.Add(Value(HeadlessOutput, batch, Dim(width), Dim(1), Dim(1)));
        g.ValueInfo.Add(Value("block_out", batch, Dim(width), Dim(size), Dim(size)));
        var model = Model(g);
        model.OpsetImport[0].Version = opset;
        return model;
    }

    /// <summary>Input of <see cref="TinyPreprocess"/>.</summary>
    public const string PreprocessInput = "OriginalInput";

    /// <summary>
    /// A preprocessing graph shaped like ML.NET's ResNetPreprocess.onnx: <c>OriginalInput [B,3,S,S]</c> (RGB 0..255)
    /// → Split → Concat(B,G,R) → Sub(per-pixel mean image) → <c>PreprocessedInput</c>.
    /// </summary>
    /// <param name="size">Height and width.</param>
    /// <param name="fixedBatch">Declared batch size, or null for a symbolic N.</param>
    /// <param name="opset">Default-domain opset; the Split's sizes are an attribute before 13 and an input from 13.</param>
    /// <param name="clashWithTinyHeadless">Name the intermediate values like values of <see cref="TinyHeadless"/>.</param>
    public static ModelProto TinyPreprocess(int size = 32, int? fixedBatch = 1, int opset = 8, bool clashWithTinyHeadless = false)
    {
        var rng = new Random(17);
        var batch = fixedBatch is { } b ? Dim(b) : Dim("N");
        var (r, gr, bl, bgr) = clashWithTinyHeadless ? ("stem", "b1", "sum", "block_out") : ("RInp", "GInp", "BInp", "BGRInput");
        var g = new GraphProto { Name = "tiny_preprocess" };
        g.Input.Add(Value(PreprocessInput, batch, Dim(3), Dim(size), Dim(size)));
        var split = new NodeProto { OpType = "Split", Name = clashWithTinyHeadless ? "pool" : "" };
        split.Input.Add(PreprocessInput);
        split.Output.AddRange([r, gr, bl]);
        split.Attribute.Add(Int("axis", 1));
        if (opset < 13)
        {
            split.Attribute.Add(Ints("split", 1, 1, 1));
        }
        else
        {
            var sizes = new TensorProto { Name = "split_sizes", DataType = (int)TensorProto.Types.DataType.Int64 };
            sizes.Dims.Add(3);
            sizes.Int64Data.AddRange([1, 1, 1]);
            g.Initializer.Add(sizes);
            split.Input.Add("split_sizes");
        }
        g.Node.Add(split);
        var concat = new NodeProto { OpType = "Concat" };
        concat.Input.AddRange([bl, gr, r]);
        concat.Output.Add(bgr);
        concat.Attribute.Add(Int("axis", 1));
        g.Node.Add(concat);
        var mean = new TensorProto { Name = "MeanImage", DataType = Float };
        mean.Dims.AddRange([1, 3, size, size]);
        for (var i = 0; i < 3 * size * size; i++)
            mean.FloatData.Add((float)(100 + 30 * rng.NextDouble()));
        g.Initializer.Add(mean);
        g.Node.Add(Node("Sub", "", [bgr, "MeanImage"], "PreprocessedInput"));
        g.Output.Add(Value("PreprocessedInput", batch, Dim(3), Dim(size), Dim(size)));
        g.ValueInfo.Add(Value(bgr, batch, Dim(3), Dim(size), Dim(size)));
        var model = Model(g);
        // ML.NET's file is IR 3 / opset 8, like most CNTK exports.
        model.IrVersion = opset < 13 ? 3 : 7;
        model.OpsetImport[0].Version = opset;
        return model;
    }

    /// <summary>An image model without any classifier: <c>image [N,3,32,32] -> Conv3x3 -> out</c>.</summary>
    public static ModelProto NoClassifier()
    {
        var g = new GraphProto { Name = "no_classifier" };
        g.Input.Add(Value(InputName, Dim("N"), Dim(3), Dim(32), Dim(32)));
        AddConv(g, new Random(7), "only_conv", InputName, "out", 3, 4, 3);
        g.Output.Add(Value("out", Dim("N"), Dim(4), Dim(32), Dim(32)));
        return Model(g);
    }

    /// <summary>A vector model (<c>x [N,20] -> Gemm -> y</c>): it has a classifier but no image input.</summary>
    public static ModelProto NoImageInput()
    {
        var rng = new Random(3);
        var g = new GraphProto { Name = "vector_model" };
        g.Input.Add(Value("x", Dim("N"), Dim(20)));
        g.Initializer.Add(Random(rng, "w", [5, 20], 20));
        var gemm = Node("Gemm", "fc", ["x", "w"], "y");
        gemm.Attribute.Add(Int("transB", 1));
        g.Node.Add(gemm);
        g.Output.Add(Value("y", Dim("N"), Dim(5)));
        return Model(g);
    }

    /// <summary>Serialized bytes of a fixture.</summary>
    public static byte[] Bytes(ModelProto model) => model.ToByteArray();

    private static ModelProto Model(GraphProto graph)
    {
        var m = new ModelProto { IrVersion = 7, ProducerName = "MLTransfer.Tests", Graph = graph };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 13 });
        return m;
    }

    private static void AddConv(GraphProto g, Random rng, string name, string input, string output, int cin, int cout, int k)
    {
        g.Initializer.Add(Random(rng, name + ".weight", [cout, cin, k, k], cin * k * k));
        g.Initializer.Add(Random(rng, name + ".bias", [cout], cin * k * k));
        var conv = Node("Conv", name, [input, name + ".weight", name + ".bias"], output);
        conv.Attribute.Add(Ints("kernel_shape", k, k));
        var pad = k / 2;
        conv.Attribute.Add(Ints("pads", pad, pad, pad, pad));
        g.Node.Add(conv);
    }

    // Uniform in +-sqrt(3/fan_in) keeps activations of order 1 through the layers (He-style scaling).
    private static TensorProto Random(Random rng, string name, long[] dims, int fanIn)
    {
        var count = (int)dims.Aggregate(1L, (a, d) => a * d);
        var limit = Math.Sqrt(3.0 / fanIn);
        var t = new TensorProto { Name = name, DataType = Float };
        t.Dims.AddRange(dims);
        for (var i = 0; i < count; i++)
            t.FloatData.Add((float)((rng.NextDouble() * 2 - 1) * limit));
        return t;
    }

    private static TensorProto Uniform(Random rng, string name, int count, double low, double high)
    {
        var t = new TensorProto { Name = name, DataType = Float };
        t.Dims.Add(count);
        for (var i = 0; i < count; i++)
            t.FloatData.Add((float)(low + rng.NextDouble() * (high - low)));
        return t;
    }

    private static NodeProto Node(string op, string name, string[] inputs, string output)
    {
        var n = new NodeProto { OpType = op, Name = name };
        n.Input.AddRange(inputs);
        n.Output.Add(output);
        return n;
    }

    private static NodeProto Flatten(string name, string input, string output)
    {
        var n = Node("Flatten", name, [input], output);
        n.Attribute.Add(Int("axis", 1));
        return n;
    }

    private static AttributeProto Int(string name, long v) =>
        new() { Name = name, I = v, Type = AttributeProto.Types.AttributeType.Int };

    private static AttributeProto Ints(string name, params long[] v)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(v);
        return a;
    }

    private static TensorShapeProto.Types.Dimension Dim(long v) => new() { DimValue = v };
    private static TensorShapeProto.Types.Dimension Dim(string p) => new() { DimParam = p };

    private static ValueInfoProto Value(string name, params TensorShapeProto.Types.Dimension[] dims)
    {
        var shape = new TensorShapeProto();
        shape.Dim.AddRange(dims);
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = Float, Shape = shape } },
        };
    }
}
