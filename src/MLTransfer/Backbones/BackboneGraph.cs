using System.Globalization;
using System.Text.RegularExpressions;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLTransfer.Backbones.Onnx;
using MLTransfer.Images;

namespace MLTransfer.Backbones;

/// <summary>
/// Graph surgery that turns a pretrained ONNX image classifier into a feature extractor with a fixed
/// contract: raw pixels in (<see cref="PreparedBackbone.InputName"/>), embedding out
/// (<see cref="PreparedBackbone.OutputName"/>).
/// </summary>
/// <remarks>
/// Normalisation is folded into the graph because ML.NET's <c>ExtractPixels</c> can only apply one scale
/// and one offset to all channels, while ImageNet models need a per-channel mean and standard deviation.
/// With the normalisation inside the model, every pipeline extracts plain 0..255 pixels and cannot get the
/// preprocessing subtly wrong. The classifier is cut off by making the flattened features the only graph
/// output, because ONNX Runtime and ML.NET can only fetch graph outputs.
/// </remarks>
internal static class BackboneGraph
{
    /// <summary>Key of the <c>metadata_props</c> entry that records what <see cref="Prepare(byte[], BackboneDescription)"/> did.</summary>
    public const string MetadataKey = "mltransfer.prepared";

    private const int FloatType = (int)TensorProto.Types.DataType.Float;

    /// <summary>Reads an ONNX file and prepares it; errors name the file.</summary>
    /// <exception cref="MLTransferException">The file is missing, unreadable, or does not match <paramref name="desc"/>.</exception>
    /// <param name="onnxPath">The ONNX file.</param>
    /// <param name="desc">Input size, channel order, normalisation and optionally the feature tensor.</param>
    /// <param name="resizeInput">
    /// Run the graph at the description's input size even where the file declares another (a fully
    /// convolutional backbone pools whatever size it gets); the graph is tried at that size, and refused with a
    /// clear error if it cannot run there. Without it a different declared size is a mismatched file.
    /// </param>
    public static PreparedBackbone Prepare(string onnxPath, BackboneDescription desc, bool resizeInput = false)
    {
        ArgumentNullException.ThrowIfNull(onnxPath);
        return PrepareCore(OnnxModelIO.ReadFile(onnxPath), desc, onnxPath, resizeInput);
    }

    /// <summary>
    /// Rewrites a classifier so that it takes raw pixels and returns the flattened feature tensor.
    /// </summary>
    /// <param name="onnxBytes">The original model.</param>
    /// <param name="desc">Input size, channel order, normalisation and optionally the feature tensor.</param>
    /// <returns>The prepared model and what was found in it.</returns>
    /// <exception cref="MLTransferException">
    /// The bytes are not an ONNX model, the input does not match <paramref name="desc"/> (a mismatched
    /// backbone), or no feature tensor can be found.
    /// </exception>
    public static PreparedBackbone Prepare(byte[] onnxBytes, BackboneDescription desc)
    {
        ArgumentNullException.ThrowIfNull(onnxBytes);
        ArgumentNullException.ThrowIfNull(desc);
        return PrepareCore(onnxBytes, desc, desc.FileName);
    }

    private static PreparedBackbone PrepareCore(byte[] onnxBytes, BackboneDescription desc, string where, bool resizeInput = false)
    {
        ValidateDescription(desc);
        var model = OnnxModelIO.Parse(onnxBytes, where);
        var graph = model.Graph;
        var index = new OnnxGraphIndex(graph);

        var input = FeatureTensorDetector.FindImageInput(index, desc.InputName, where);
        if (resizeInput && input.Type?.TensorType?.Shape?.Dim is { Count: 4 } declared)
        {
            // Intermediate shapes declared for the original size would contradict the new one; ONNX Runtime
            // infers them again.
            (declared[2], declared[3]) = (OnnxShapes.Dim(desc.InputHeight), OnnxShapes.Dim(desc.InputWidth));
            graph.ValueInfo.Clear();
        }
        var inputElemType = CheckInput(input, desc, where);
        // Checked before detection: a prepared graph has no classifier left, and "no classifier found"
        // would hide the real mistake.
        var taken = index.AllNames();
        foreach (var reserved in new[] { PreparedBackbone.InputName, PreparedBackbone.OutputName })
        {
            if (taken.Contains(reserved))
                throw new MLTransferException(
                    $"The model already uses the name '{reserved}'; it looks like a backbone that was already prepared",
                    where, "Prepare the original classifier file, not a prepared one");
        }

        var feature = FeatureTensorDetector.Detect(model, desc.FeatureTensor, where);
        if (desc.FeatureSize is { } wanted && feature.FeatureSize is { } found && wanted != found)
            throw FeatureSizeMismatch(desc, feature, found, where);

        // Keep a static batch size: a graph exported for batch 1 (fixed Reshape shapes) cannot run bigger
        // batches, and declaring N would only move the failure into ONNX Runtime.
        var inputDims = OnnxShapes.Dims(input);
        var batch = inputDims is { Count: 4 } && OnnxShapes.StaticValue(inputDims[0]) is { } b
            ? OnnxShapes.Dim(b)
            : OnnxShapes.Dim("N");

        var (scale, bias) = FoldNormalisation(desc);
        var scaleName = OnnxShapes.Unique(taken, "mltransfer_pixel_scale");
        var biasName = OnnxShapes.Unique(taken, "mltransfer_pixel_bias");
        var scaledName = OnnxShapes.Unique(taken, "mltransfer_scaled");

        // The normalised image must end up under the original input name so that every existing consumer
        // of the input is rewired without touching the rest of the graph.
        var prologue = new List<NodeProto>
        {
            Node("Mul", OnnxShapes.Unique(taken, "mltransfer_pixel_mul"), [PreparedBackbone.InputName, scaleName], scaledName),
        };
        if (inputElemType == FloatType)
        {
            prologue.Add(Node("Add", OnnxShapes.Unique(taken, "mltransfer_pixel_add"), [scaledName, biasName], input.Name));
        }
        else
        {
            // float16/float64 backbones: normalise in float32, then convert to what the graph expects.
            var normalised = OnnxShapes.Unique(taken, "mltransfer_normalised");
            prologue.Add(Node("Add", OnnxShapes.Unique(taken, "mltransfer_pixel_add"), [scaledName, biasName], normalised));
            var cast = Node("Cast", OnnxShapes.Unique(taken, "mltransfer_input_cast"), [normalised], input.Name);
            cast.Attribute.Add(OnnxShapes.IntAttribute("to", inputElemType));
            prologue.Add(cast);
        }
        // Prepending keeps the node list topologically sorted, as ONNX requires.
        for (var i = prologue.Count - 1; i >= 0; i--)
            graph.Node.Insert(0, prologue[i]);

        var newInput = OnnxShapes.TensorValue(PreparedBackbone.InputName, FloatType,
            batch, OnnxShapes.Dim(3), OnnxShapes.Dim(desc.InputHeight), OnnxShapes.Dim(desc.InputWidth));
        var position = graph.Input.IndexOf(input);
        graph.Input.RemoveAt(position);
        graph.Input.Insert(position, newInput);
        // An input with an initializer of the same name is an overridable default; the value is now
        // computed by the prologue, and ONNX forbids a name with two definitions.
        var shadowed = graph.Initializer.FirstOrDefault(t => t.Name == input.Name);
        if (shadowed is not null)
            graph.Initializer.Remove(shadowed);

        graph.Initializer.Add(OnnxShapes.FloatTensor(scaleName, [1, 3, 1, 1], scale));
        graph.Initializer.Add(OnnxShapes.FloatTensor(biasName, [1, 3, 1, 1], bias));
        if (model.IrVersion < 4)
        {
            // Before IR 4 every initializer also had to be listed as a graph input.
            graph.Input.Add(OnnxShapes.TensorValue(scaleName, FloatType, OnnxShapes.Dim(1), OnnxShapes.Dim(3), OnnxShapes.Dim(1), OnnxShapes.Dim(1)));
            graph.Input.Add(OnnxShapes.TensorValue(biasName, FloatType, OnnxShapes.Dim(1), OnnxShapes.Dim(3), OnnxShapes.Dim(1), OnnxShapes.Dim(1)));
        }

        var featureSource = feature.FeatureTensor;
        if (index.Declared.TryGetValue(featureSource, out var featureDecl) && OnnxShapes.ElemType(featureDecl) is { } fType && fType != FloatType)
        {
            var castOut = OnnxShapes.Unique(taken, "mltransfer_features_float");
            var cast = Node("Cast", OnnxShapes.Unique(taken, "mltransfer_features_cast"), [featureSource], castOut);
            cast.Attribute.Add(OnnxShapes.IntAttribute("to", FloatType));
            graph.Node.Add(cast);
            featureSource = castOut;
        }
        var flatten = Node("Flatten", OnnxShapes.Unique(taken, "mltransfer_flatten"), [featureSource], PreparedBackbone.OutputName);
        flatten.Attribute.Add(OnnxShapes.IntAttribute("axis", 1));
        graph.Node.Add(flatten);

        // The output must carry a type and shape: ML.NET's ApplyOnnxModel dereferences them and throws a
        // NullReferenceException on an untyped output.
        var output = OnnxShapes.TensorValue(PreparedBackbone.OutputName, FloatType, batch,
            feature.FeatureSize is { } size ? OnnxShapes.Dim(size) : OnnxShapes.Dim("mltransfer_feature_size"));
        // Only the features remain an output, so ONNX Runtime does not have to compute the classifier.
        graph.Output.Clear();
        graph.Output.Add(output);

        if (feature.FeatureSize is null || resizeInput)
        {
            // Measured by running the graph, which for a resized input is also the proof that it runs at that size.
            var measured = MeasureFeatureSize(model.ToByteArray(), desc, batch, where);
            if (desc.FeatureSize is { } expected && expected != measured)
                throw FeatureSizeMismatch(desc, feature, measured, where);
            output.Type.TensorType.Shape.Dim[1] = OnnxShapes.Dim(measured);
            feature = feature with { FeatureSize = measured };
        }

        SetMetadata(model, MetadataKey,
            $"backbone '{desc.Name}': input '{PreparedBackbone.InputName}' = raw pixels 0..255, {desc.ChannelOrder.ToString().ToUpperInvariant()}, " +
            $"[{OnnxShapes.Format(batch)},3,{desc.InputHeight},{desc.InputWidth}], normalised as (pixel/255 - mean)/std with " +
            $"mean [{Invariant(desc.Mean)}] std [{Invariant(desc.Std)}] into '{input.Name}'; " +
            $"output '{PreparedBackbone.OutputName}' = Flatten('{feature.FeatureTensor}') [{OnnxShapes.Format(batch)},{feature.FeatureSize}]" +
            $" ({feature.Origin})");

        new PreparationStamp(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(onnxBytes)), desc.InputWidth, desc.InputHeight,
            desc.ResizeMode, desc.ChannelOrder, desc.Mean, desc.Std, feature.FeatureSize!.Value).WriteTo(model);

        return new PreparedBackbone(desc with { FeatureTensor = feature.FeatureTensor, FeatureSize = feature.FeatureSize }, model.ToByteArray(), feature, feature.FeatureSize!.Value,
            desc.InputWidth, desc.InputHeight, desc.ChannelOrder, input.Name)
        {
            FixedBatchSize = OnnxShapes.StaticValue(batch) is { } fixedBatch ? (int)fixedBatch : null,
        };
    }

    /// <summary>
    /// The prepared backbone taking images <paramref name="factor"/> times larger on each side, averaged
    /// down in the graph (an AveragePool of factor × factor) before everything else.
    /// </summary>
    /// <remarks>
    /// ML.NET's <c>ResizeImages</c> samples the nearest pixel, which aliases photos that are shrunk and cost
    /// the flowers MLP head three points. A chain of stock transforms can still resize well: ResizeImages
    /// to twice the size (little is dropped), then a 2×2 box filter here. Normalisation is affine per
    /// channel, so averaging raw pixels first gives the same result as averaging normalised ones.
    /// </remarks>
    public static PreparedBackbone WithSupersampledInput(PreparedBackbone prepared, int factor)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(factor, 2);
        var model = OnnxModelIO.Parse(prepared.OnnxBytes, prepared.Description.Name);
        var graph = model.Graph;
        var taken = new OnnxGraphIndex(graph).AllNames();
        var pooled = OnnxShapes.Unique(taken, "mltransfer_pooled_input");
        foreach (var node in graph.Node)
            for (var i = 0; i < node.Input.Count; i++)
                if (node.Input[i] == PreparedBackbone.InputName)
                    node.Input[i] = pooled;
        var pool = Node("AveragePool", OnnxShapes.Unique(taken, "mltransfer_supersample_pool"), [PreparedBackbone.InputName], pooled);
        pool.Attribute.Add(new AttributeProto { Name = "kernel_shape", Type = AttributeProto.Types.AttributeType.Ints, Ints = { factor, factor } });
        pool.Attribute.Add(new AttributeProto { Name = "strides", Type = AttributeProto.Types.AttributeType.Ints, Ints = { factor, factor } });
        graph.Node.Insert(0, pool);
        var input = graph.Input.First(i => i.Name == PreparedBackbone.InputName);
        var dims = input.Type.TensorType.Shape.Dim;
        (dims[2], dims[3]) = (OnnxShapes.Dim(factor * prepared.InputHeight), OnnxShapes.Dim(factor * prepared.InputWidth));
        if (PreparationStamp.Read(model, prepared.Description.Name) is { } stamp)
            (stamp with { InputWidth = factor * prepared.InputWidth, InputHeight = factor * prepared.InputHeight }).WriteTo(model);
        return prepared with { OnnxBytes = model.ToByteArray(), InputWidth = factor * prepared.InputWidth, InputHeight = factor * prepared.InputHeight };
    }

    /// <summary>Summarises an ONNX file for the user: inputs, outputs, size, and the detected feature tensor.</summary>
    /// <param name="onnxBytes">The model.</param>
    /// <param name="source">File name used in messages.</param>
    /// <exception cref="MLTransferException">The bytes are not a readable ONNX model.</exception>
    /// <remarks>Detection failures do not throw: they are reported in <see cref="OnnxModelSummary.DetectionError"/>,
    /// because inspecting a model is how the user finds the tensor name to pass instead.</remarks>
    public static OnnxModelSummary Inspect(byte[] onnxBytes, string? source = null)
    {
        ArgumentNullException.ThrowIfNull(onnxBytes);
        var where = source ?? "in-memory model";
        var model = OnnxModelIO.Parse(onnxBytes, where);
        var index = new OnnxGraphIndex(model.Graph);

        FeatureTensorInfo? feature = null;
        string? error = null;
        try
        {
            feature = FeatureTensorDetector.Detect(model, null, where);
        }
        catch (MLTransferException ex)
        {
            error = ex.Message;
        }

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var kv in model.MetadataProps)
            metadata[kv.Key] = kv.Value;

        var opset = model.OpsetImport.Where(o => o.Domain.Length == 0 || o.Domain == "ai.onnx")
            .Select(o => o.Version).DefaultIfEmpty(0).Max();
        long parameters = model.Graph.Initializer.Sum(t => t.Dims.Aggregate(1L, (acc, d) => acc * d));
        var producer = $"{model.ProducerName} {model.ProducerVersion}".Trim();

        return new OnnxModelSummary(model.IrVersion, producer, opset,
            index.RealInputs.Select(Summarise).ToList(),
            model.Graph.Output.Select(Summarise).ToList(),
            model.Graph.Node.Count, parameters, feature, error, metadata,
            GuessPreprocessing(model.MetadataProps.Select(kv => (kv.Key, kv.Value))));
    }

    /// <summary>
    /// Reads normalisation from free-text metadata such as <c>value = pixel * 0.0078431373 + -1</c>,
    /// <c>pixel / 127.5 - 1</c> or <c>mean=[0.485,0.456,0.406] std=[0.229,0.224,0.225]</c>.
    /// </summary>
    /// <returns>The first entry that states a normalisation, or null.</returns>
    public static PreprocessingGuess? GuessPreprocessing(IEnumerable<(string Key, string Value)> metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        foreach (var (key, value) in metadata)
        {
            var order = Regex.IsMatch(value, @"\bBGR\b", RegexOptions.IgnoreCase) ? ChannelOrder.Bgr
                : Regex.IsMatch(value, @"\bRGB\b", RegexOptions.IgnoreCase) ? ChannelOrder.Rgb
                : (ChannelOrder?)null;
            var evidence = $"{key} = {value}";

            // pixel * S + B: the affine form converters write; it fixes std = 1/(255 S) and mean = -B std.
            var affine = Regex.Match(value, $@"pixel\s*\*\s*(?<s>{Number})\s*(?<op>[+-])\s*(?<b>{Number})", RegexOptions.IgnoreCase);
            if (affine.Success)
                return FromAffine(Parse(affine.Groups["s"].Value), Signed(affine), order, evidence);
            var divided = Regex.Match(value, $@"pixel\s*/\s*(?<d>{Number})(\s*(?<op>[+-])\s*(?<b>{Number}))?", RegexOptions.IgnoreCase);
            if (divided.Success)
                return FromAffine(1.0 / Parse(divided.Groups["d"].Value), divided.Groups["b"].Success ? Signed(divided) : 0, order, evidence);

            var mean = Triple(value, "mean");
            var std = Triple(value, "std");
            if (mean is not null && std is not null)
            {
                // Lists on the 0..255 scale (Caffe style) are converted to the [0,1] convention.
                var on255 = mean.Any(m => m > 1.5) || std.Any(s => s > 1.5);
                return new PreprocessingGuess(
                    mean.Select(m => (float)(on255 ? m / 255 : m)).ToList(),
                    std.Select(s => (float)(on255 ? s / 255 : s)).ToList(), order, evidence);
            }
        }
        return null;
    }

    private const string Number = @"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?";

    private static double Parse(string s) => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);

    private static double Signed(Match m) =>
        m.Groups["op"].Value == "-" ? -Parse(m.Groups["b"].Value) : Parse(m.Groups["b"].Value);

    private static PreprocessingGuess? FromAffine(double scale, double offset, ChannelOrder? order, string evidence)
    {
        if (scale <= 0 || double.IsInfinity(scale))
            return null;
        // Rounded because metadata values are printed with ~10 digits (0.0078431373), which would turn a
        // plain 0.5 into 0.49999999.
        var std = Math.Round(1 / (255 * scale), 6);
        var mean = Math.Round(-offset * std, 6);
        return new PreprocessingGuess([(float)mean, (float)mean, (float)mean], [(float)std, (float)std, (float)std], order, evidence);
    }

    private static double[]? Triple(string text, string name)
    {
        var m = Regex.Match(text, $@"\b{name}\w*\s*[=:]\s*[\[(]?\s*(?<a>{Number})\s*,\s*(?<b>{Number})\s*,\s*(?<c>{Number})", RegexOptions.IgnoreCase);
        return m.Success ? [Parse(m.Groups["a"].Value), Parse(m.Groups["b"].Value), Parse(m.Groups["c"].Value)] : null;
    }

    private static OnnxTensorSummary Summarise(ValueInfoProto vi) =>
        new(vi.Name, OnnxShapes.ElemTypeName(OnnxShapes.ElemType(vi)), OnnxShapes.Dims(vi)?.Select(OnnxShapes.Format).ToList());

    private static void ValidateDescription(BackboneDescription desc)
    {
        string? problem = null;
        if (!string.Equals(desc.Layout, "NCHW", StringComparison.OrdinalIgnoreCase))
            problem = $"layout '{desc.Layout}' is not supported (only NCHW)";
        else if (desc.InputWidth <= 0 || desc.InputHeight <= 0)
            problem = $"input size {desc.InputWidth}x{desc.InputHeight} is not positive";
        else if (desc.Mean.Count != 3 || desc.Std.Count != 3)
            problem = $"Mean and Std need 3 values each (got {desc.Mean.Count} and {desc.Std.Count})";
        else if (desc.Std.Any(s => !(s > 0) || float.IsInfinity(s)))
            problem = "every Std value must be a positive number";
        else if (desc.Mean.Any(m => !float.IsFinite(m)))
            problem = "every Mean value must be a finite number";
        if (problem is not null)
            throw new MLTransferException($"Invalid backbone description '{desc.Name}': {problem}", desc.FileName,
                "Fix the backbone description");
    }

    /// <summary>Checks the original input against the description; returns its element type.</summary>
    private static int CheckInput(ValueInfoProto input, BackboneDescription desc, string where)
    {
        var elemType = OnnxShapes.ElemType(input) ?? FloatType;
        if (elemType is not (FloatType or (int)TensorProto.Types.DataType.Float16 or (int)TensorProto.Types.DataType.Double))
            throw new MLTransferException(
                $"The model's input '{input.Name}' is {OnnxShapes.ElemTypeName(elemType)}, but only float32/float16/float64 image inputs are supported",
                where, "Use a float ONNX export of the model (quantized uint8-input models are not supported)");

        var dims = OnnxShapes.Dims(input);
        if (dims is null)
            return elemType; // undeclared shape: trust the description, ONNX Runtime checks at run time

        var expected = $"[N,3,{desc.InputHeight},{desc.InputWidth}]";
        var actual = OnnxShapes.FormatShape(input);
        var mismatch = dims.Count != 4
            || OnnxShapes.StaticValue(dims[1]) is { } c && c != 3
            || OnnxShapes.StaticValue(dims[2]) is { } h && h != desc.InputHeight
            || OnnxShapes.StaticValue(dims[3]) is { } w && w != desc.InputWidth;
        if (mismatch)
            throw new MLTransferException(
                $"Mismatched backbone: the model's input '{input.Name}' has shape {actual}, but the backbone description " +
                $"'{desc.Name}' expects {expected} (NCHW, 3 channels)",
                where,
                "Use the model file the description was written for, or set InputWidth/InputHeight (and Mean/Std) " +
                "to the values this model was trained with");
        return elemType;
    }

    private static MLTransferException FeatureSizeMismatch(BackboneDescription desc, FeatureTensorInfo feature, int found, string where) =>
        new($"Mismatched backbone: the backbone description '{desc.Name}' expects {desc.FeatureSize} features, but tensor " +
            $"'{feature.FeatureTensor}' of the model has {found}",
            where, "Use the model file the description was written for, or correct FeatureSize/FeatureTensor in the description");

    /// <summary>Folds <c>(x/255 - mean)/std</c> into <c>x * scale + bias</c>, computed in double for accuracy.</summary>
    private static (float[] Scale, float[] Bias) FoldNormalisation(BackboneDescription desc)
    {
        var scale = new float[3];
        var bias = new float[3];
        for (var c = 0; c < 3; c++)
        {
            scale[c] = (float)(1.0 / (255.0 * desc.Std[c]));
            bias[c] = (float)(-(double)desc.Mean[c] / desc.Std[c]);
        }
        return (scale, bias);
    }

    /// <summary>
    /// Runs the prepared graph once on a black image to learn the feature width, for user-named tensors
    /// whose shape the graph does not declare.
    /// </summary>
    private static int MeasureFeatureSize(byte[] prepared, BackboneDescription desc, TensorShapeProto.Types.Dimension batch, string where)
    {
        var n = (int)(OnnxShapes.StaticValue(batch) ?? 1);
        try
        {
            using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
            using var session = new InferenceSession(prepared, options);
            var pixels = new DenseTensor<float>([n, 3, desc.InputHeight, desc.InputWidth]);
            using var results = session.Run([NamedOnnxValue.CreateFromTensor(PreparedBackbone.InputName, pixels)]);
            var dims = results.First().AsTensor<float>().Dimensions.ToArray();
            return checked((int)Enumerable.Range(1, dims.Length - 1).Aggregate(1L, (acc, i) => acc * dims[i]));
        }
        catch (OnnxRuntimeException ex)
        {
            throw new MLTransferException(
                $"The backbone failed to run in ONNX Runtime while measuring the size of feature tensor '{desc.FeatureTensor}': {ex.Message}",
                where, "Check the feature tensor name and the input size in the backbone description", ex);
        }
    }

    private static string Invariant(IEnumerable<float> values) =>
        string.Join(", ", values.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));

    private static NodeProto Node(string opType, string name, string[] inputs, string output)
    {
        var node = new NodeProto { OpType = opType, Name = name };
        node.Input.AddRange(inputs);
        node.Output.Add(output);
        return node;
    }

    private static void SetMetadata(ModelProto model, string key, string value)
    {
        var existing = model.MetadataProps.FirstOrDefault(kv => kv.Key == key);
        if (existing is not null)
            existing.Value = value;
        else
            model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
    }
}
