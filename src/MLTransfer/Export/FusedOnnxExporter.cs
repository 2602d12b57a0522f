using System.Globalization;
using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Trainers;
using MLTransfer.Backbones;
using MLTransfer.Backbones.Onnx;
using MLTransfer.Confidence;
using MLTransfer.Heads;

namespace MLTransfer.Export;

/// <summary>
/// Turns a saved model zip into one ONNX model: raw pixels in (<see cref="PreparedBackbone.InputName"/>,
/// float <c>[N, 3, H, W]</c>, 0..255, planar) → backbone → head → softmax probabilities out
/// (<see cref="OutputName"/>, float <c>[N, K]</c>, at the model's calibrated temperature), with class names and
/// preprocessing in <c>metadata_props</c>. The backbone's features are a second output
/// (<see cref="FeaturesOutputName"/>), and a calibrated model's out-of-domain score a third
/// (<see cref="OutOfDomainOutputName"/>, with its threshold in <c>metadata_props</c>).
/// </summary>
/// <remarks>
/// Nothing extra needs to be stored in the zip: ML.NET's ONNX transform already embeds each graph it runs
/// (entry <c>…/OnnxModel</c>: an int32 length, then the ONNX bytes). The backbone is the graph whose input is
/// <see cref="PreparedBackbone.InputName"/>; the head is either the graph marked
/// <see cref="OnnxHeadExporter.HeadMetadataKey"/> (heads trained by TransferImageClassification) or, for the
/// L-BFGS head, rebuilt from the ML.NET linear model's weights (the LpNorm step maps to ONNX
/// LpNormalization, the maximum-entropy scores to Gemm + Softmax).
/// </remarks>
public static class FusedOnnxExporter
{
    /// <summary>Name of the fused model's probabilities output.</summary>
    public const string OutputName = "probabilities";

    /// <summary>Name of the fused model's feature output: the backbone's features, float <c>[N, F]</c> (the prepared backbone's own output, kept).</summary>
    public const string FeaturesOutputName = PreparedBackbone.OutputName;

    /// <summary>
    /// Name of a calibrated model's out-of-domain output, float <c>[N]</c>: cosine distance from the features to
    /// the k-th nearest training image's (above the threshold in <c>mltransfer.out_of_domain_threshold</c>: out of domain).
    /// </summary>
    public const string OutOfDomainOutputName = "mltransfer_out_of_domain_score";

    /// <summary>Key of the <c>metadata_props</c> entry that marks a fused export (and says what its input and output are).</summary>
    public const string FusedMetadataKey = "mltransfer.fused";

    /// <summary>Builds the fused ONNX model of a model zip.</summary>
    /// <exception cref="MLTransferException">The zip is missing, damaged, or has no backbone or head this exporter understands.</exception>
    public static byte[] Export(string modelZip)
    {
        // The zip is untrusted: checked in full (with its metadata against the backbone, when it has metadata).
        if (ModelZipReader.LooksLikeModelZip(modelZip))
        {
            var (metadata, graphs) = ModelZipReader.VerifyAndReadGraphs(modelZip);
            return OnnxModelIO.Serialize(Build(modelZip, graphs, metadata, loaded: null));
        }
        ModelZipReader.VerifyChecksums(modelZip);
        return OnnxModelIO.Serialize(Build(modelZip, ModelZipReader.ReadEmbeddedGraphs(modelZip), null, loaded: null));
    }

    /// <summary>
    /// Builds the fused model from graphs read from <paramref name="modelZip"/> for this call (the backbone among
    /// them becomes the fused model), taking a linear head's weights from <paramref name="loaded"/>, the zip's
    /// ML.NET chain, when the caller has it loaded (the zip is then not loaded a second time).
    /// </summary>
    internal static ModelProto Build(string modelZip, IReadOnlyList<ModelProto> graphs, ModelMetadata? metadata, ITransformer? loaded)
    {
        var backbone = graphs.FirstOrDefault(g => g.Graph.Input.Any(i => i.Name == PreparedBackbone.InputName))
            ?? throw new MLTransferException("The zip contains no MLTransfer backbone graph", modelZip, "Export a model trained by MLTransfer");
        var head = graphs.FirstOrDefault(g => g.MetadataProps.Any(p => p.Key == OnnxHeadExporter.HeadMetadataKey));
        ModelProto headModel;
        if (head is not null)
        {
            headModel = head;
        }
        else
        {
            var (layers, classNames) = ReadLinearHead(modelZip, metadata, loaded);
            headModel = OnnxHeadExporter.BuildModel(layers, 1f, classNames, "lbfgs-maximum-entropy");
        }
        // The graphs were read for this call only, so the backbone's weights are not copied again.
        return Fuse(backbone, headModel, metadata, inPlace: true);
    }

    /// <summary>
    /// Appends the head's nodes to the backbone graph, scales the logits by the calibrated temperature, and makes
    /// the probabilities, the features and (when calibrated) the out-of-domain score the outputs.
    /// </summary>
    /// <param name="backbone">The backbone graph; changed in place (and returned) when <paramref name="inPlace"/>.</param>
    /// <param name="head">The head graph.</param>
    /// <param name="metadata">The zip's metadata, copied into the fused model's properties.</param>
    /// <param name="inPlace">Whether the caller's backbone may become the fused model (it was read just for this), saving a copy of its weights.</param>
    internal static ModelProto Fuse(ModelProto backbone, ModelProto head, ModelMetadata? metadata = null, bool inPlace = false)
    {
        var fused = inPlace ? backbone : backbone.Clone();
        var graph = fused.Graph;
        var taken = new OnnxGraphIndex(graph).AllNames();
        var clash = head.Graph.Node.SelectMany(n => n.Output).Concat(head.Graph.Initializer.Select(t => t.Name)).FirstOrDefault(taken.Contains);
        if (clash is not null)
            throw new MLTransferException($"The backbone already uses the name '{clash}' that the head needs", null, "Re-prepare the backbone from the original file");
        graph.Node.AddRange(head.Graph.Node.Select(n => n.Clone()));
        graph.Initializer.AddRange(head.Graph.Initializer.Select(t => t.Clone()));
        // Keep ONNX Runtime's batch dimension symbolic name consistent with the backbone's.
        var batch = graph.Input.First(i => i.Name == PreparedBackbone.InputName).Type.TensorType.Shape.Dim[0].Clone();
        var classes = head.Graph.Output.First(o => o.Name == OnnxHeadExporter.ProbabilitiesName).Type.TensorType.Shape.Dim[1].Clone();
        var rename = new NodeProto { OpType = "Identity", Name = "mltransfer_output" };
        rename.Input.Add(OnnxHeadExporter.ProbabilitiesName);
        rename.Output.Add(OutputName);
        graph.Node.Add(rename);
        var features = graph.Output.First(o => o.Name == FeaturesOutputName);
        graph.Output.Clear();
        graph.Output.Add(OnnxShapes.TensorValue(OutputName, (int)TensorProto.Types.DataType.Float, batch, classes));
        graph.Output.Add(features);
        // The head needs opset ≥ 7 (Gemm with a broadcast bias); a backbone that old gets lifted.
        var opset = fused.OpsetImport.FirstOrDefault(o => string.IsNullOrEmpty(o.Domain));
        if (opset is null)
            fused.OpsetImport.Add(opset = new OperatorSetIdProto { Domain = "", Version = 13 });
        else if (opset.Version < 7)
            opset.Version = 7;
        if (metadata?.Calibration is { } calibration)
        {
            ScaleLogits(graph, calibration.Temperature);
            if (calibration.Reference is { } reference)
            {
                AddOutOfDomainScore(graph, reference, opset.Version);
                graph.Output.Add(OnnxShapes.TensorValue(OutOfDomainOutputName, (int)TensorProto.Types.DataType.Float, batch.Clone()));
            }
        }

        void Put(string key, string value)
        {
            var existing = fused.MetadataProps.FirstOrDefault(p => p.Key == key);
            if (existing is null)
                fused.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
            else
                existing.Value = value;
        }
        foreach (var p in head.MetadataProps)
            Put(p.Key, p.Value);
        Put(FusedMetadataKey, $"input '{PreparedBackbone.InputName}' raw 0..255 planar pixels [N,3,H,W]; output '{OutputName}' softmax probabilities [N,K] in the order of mltransfer.class_names; " +
            $"output '{FeaturesOutputName}' backbone features [N,F]" + (metadata?.Calibration?.Reference is null ? "" : $"; output '{OutOfDomainOutputName}' [N], out of domain above mltransfer.out_of_domain_threshold"));
        if (metadata is not null)
        {
            Put("mltransfer.backbone", JsonSerializer.Serialize(metadata.Backbone, ModelPackage.JsonOptions));
            Put(OnnxHeadExporter.ClassNamesMetadataKey, JsonSerializer.Serialize(metadata.ClassNames));
        }
        if (metadata?.Calibration is { } c)
        {
            Put(TemperatureMetadataKey, c.Temperature.ToString("R", CultureInfo.InvariantCulture));
            if (c.OutOfDomainThreshold is { } threshold)
                Put(ThresholdMetadataKey, threshold.ToString("R", CultureInfo.InvariantCulture));
        }
        return fused;
    }

    /// <summary>Key of the <c>metadata_props</c> entry holding the temperature the probabilities are computed at.</summary>
    public const string TemperatureMetadataKey = "mltransfer.temperature";

    /// <summary>Key of the <c>metadata_props</c> entry holding the out-of-domain threshold.</summary>
    public const string ThresholdMetadataKey = "mltransfer.out_of_domain_threshold";

    /// <summary>Divides the head's logits by <paramref name="temperature"/> in front of its softmax.</summary>
    private static void ScaleLogits(GraphProto graph, double temperature)
    {
        if (temperature == 1)
            return;
        var softmax = graph.Node.FirstOrDefault(n => n.Output.Contains(OnnxHeadExporter.ProbabilitiesName));
        if (softmax is not { OpType: "Softmax" })
            throw new MLTransferException("The model is calibrated, but its head does not end in a softmax that the temperature could be applied to", null,
                "Export a model written by 'mltransfer train' or 'finetune'");
        var scale = OnnxShapes.FloatTensor("mltransfer_inverse_temperature", [], [(float)(1 / temperature)]);
        graph.Initializer.Add(scale);
        var mul = new NodeProto { OpType = "Mul", Name = "mltransfer_temperature" };
        mul.Input.Add(softmax.Input[0]);
        mul.Input.Add(scale.Name);
        mul.Output.Add("mltransfer_scaled_logits");
        softmax.Input[0] = "mltransfer_scaled_logits";
        graph.Node.Insert(graph.Node.IndexOf(softmax), mul);
    }

    /// <summary>
    /// <c>1 − (k-th largest cosine similarity to the reference features)</c> as graph nodes: LpNormalization,
    /// MatMul with the unit reference vectors, TopK, ReduceMin of those k, and a subtraction from 1.
    /// </summary>
    private static void AddOutOfDomainScore(GraphProto graph, NeighbourDistance reference, long opset)
    {
        var transposed = new float[reference.FeatureSize * reference.Count];
        for (var r = 0; r < reference.Count; r++)
        {
            var row = reference.Row(r);
            for (var f = 0; f < reference.FeatureSize; f++)
                transposed[f * reference.Count + r] = row[f];
        }
        graph.Initializer.Add(OnnxShapes.FloatTensor("mltransfer_ood_reference", [reference.FeatureSize, reference.Count], transposed));
        graph.Initializer.Add(OnnxShapes.FloatTensor("mltransfer_ood_one", [], [1f]));
        NodeProto Node(string op, string name, string output, params string[] inputs)
        {
            var node = new NodeProto { OpType = op, Name = name };
            node.Input.AddRange(inputs);
            node.Output.Add(output);
            graph.Node.Add(node);
            return node;
        }
        var normalise = Node("LpNormalization", "mltransfer_ood_normalise", "mltransfer_ood_unit", PreparedBackbone.OutputName);
        normalise.Attribute.Add(OnnxShapes.IntAttribute("axis", 1));
        normalise.Attribute.Add(OnnxShapes.IntAttribute("p", 2));
        Node("MatMul", "mltransfer_ood_similarity", "mltransfer_ood_cosines", "mltransfer_ood_unit", "mltransfer_ood_reference");
        // TopK takes k as an attribute before opset 10 and as an int64 input from 10 on; it returns the largest, sorted.
        var topK = Node("TopK", "mltransfer_ood_nearest", "mltransfer_ood_top", "mltransfer_ood_cosines");
        topK.Output.Add("mltransfer_ood_top_indices");
        topK.Attribute.Add(OnnxShapes.IntAttribute("axis", 1));
        if (opset >= 10)
        {
            graph.Initializer.Add(Int64Tensor("mltransfer_ood_k", reference.Neighbours));
            topK.Input.Add("mltransfer_ood_k");
        }
        else
        {
            topK.Attribute.Add(OnnxShapes.IntAttribute("k", reference.Neighbours));
        }
        // The k-th largest is the smallest of the k; ReduceMin takes its axes as an attribute before opset 18, as an input from 18 on.
        var kth = Node("ReduceMin", "mltransfer_ood_kth", "mltransfer_ood_kth_similarity", "mltransfer_ood_top");
        kth.Attribute.Add(OnnxShapes.IntAttribute("keepdims", 0));
        if (opset >= 18)
        {
            graph.Initializer.Add(Int64Tensor("mltransfer_ood_axes", 1));
            kth.Input.Add("mltransfer_ood_axes");
        }
        else
        {
            kth.Attribute.Add(new AttributeProto { Name = "axes", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 1 } });
        }
        Node("Sub", "mltransfer_ood_distance", OutOfDomainOutputName, "mltransfer_ood_one", "mltransfer_ood_kth_similarity");
    }

    private static TensorProto Int64Tensor(string name, long value)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.Add(1);
        tensor.Int64Data.Add(value);
        return tensor;
    }

    private static (IReadOnlyList<DenseLayer> Layers, IReadOnlyList<string> ClassNames) ReadLinearHead(string modelZip, ModelMetadata? metadata, ITransformer? loaded)
    {
        if (loaded is not null)
            return LinearHeadOf(modelZip, metadata, loaded);
        var ml = ProcessTemp.NewMLContext();
        ITransformer model;
        using (var stream = File.OpenRead(modelZip))
            model = ml.Model.Load(stream, out _);
        try
        {
            return LinearHeadOf(modelZip, metadata, model);
        }
        finally
        {
            // Frees ML.NET's temporary copy of the backbone and its ONNX Runtime session.
            (model as IDisposable)?.Dispose();
        }
    }

    private static (IReadOnlyList<DenseLayer> Layers, IReadOnlyList<string> ClassNames) LinearHeadOf(string modelZip, ModelMetadata? metadata, ITransformer model)
    {
        var linear = Flatten(model).OfType<MulticlassPredictionTransformer<MaximumEntropyModelParameters>>().FirstOrDefault()
            ?? throw new MLTransferException("The zip has neither an ONNX head nor a maximum-entropy (L-BFGS) head", modelZip,
                "Export models trained with the default head or with TransferImageClassification");
        if (!Flatten(model).Any(t => t is Microsoft.ML.Transforms.LpNormNormalizingTransformer))
            throw new MLTransferException("The linear head is not preceded by the expected L2 normalisation", modelZip, "Retrain the model with this version of MLTransfer");
        VBuffer<float>[] weights = [];
        linear.Model.GetWeights(ref weights, out var classes);
        var biases = linear.Model.GetBiases().ToArray();
        var features = weights[0].Length;
        var layer = DenseLayer.Zero(features, classes);
        for (var k = 0; k < classes; k++)
            weights[k].DenseValues().ToArray().CopyTo(layer.Row(k));
        biases.CopyTo(layer.Bias, 0);
        var names = metadata?.ClassNames
            ?? Enumerable.Range(0, classes).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToList();
        return ([layer], names);
    }

    private static IEnumerable<ITransformer> Flatten(ITransformer t) =>
        t is IEnumerable<ITransformer> chain ? chain.SelectMany(Flatten) : [t];
}
