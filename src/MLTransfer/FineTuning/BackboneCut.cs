using MLTransfer.Backbones;
using MLTransfer.Backbones.Onnx;

namespace MLTransfer.FineTuning;

/// <summary>
/// A prepared backbone cut in two: the frozen part below the cut, which ONNX Runtime runs once per image (its
/// activations are cached like bottleneck features), and the trainable top, imported into the C# engine.
/// </summary>
/// <param name="Plan">Where the cut is and which nodes are above it.</param>
/// <param name="Network">The layers above the cut, trainable.</param>
/// <param name="FrozenPart">The backbone graph up to the cut, as a prepared backbone whose output is the cut.</param>
/// <param name="Shape">Shape of one image's activations at the cut, <c>[C, H, W]</c>.</param>
internal sealed record BackboneCut(CutPlan Plan, TrainableNetwork Network, PreparedBackbone FrozenPart, int[] Shape)
{
    private const int InferenceBatch = 64;

    /// <summary>Weights the fine-tuning trains.</summary>
    public int TrainableWeights => Network.TrainableParameters.Sum(p => p.Length);

    /// <summary>Cuts <paramref name="prepared"/> below its last <paramref name="unfreeze"/> conv layers (further down to keep a residual block whole).</summary>
    /// <exception cref="MLTransferException">The top of the graph has an operator the engine cannot train.</exception>
    public static BackboneCut Of(PreparedBackbone prepared, int unfreeze, string where, Action<string> log)
    {
        var graph = OnnxModelIO.Parse(prepared.OnnxBytes, where);
        var plan = OnnxBlock.Plan(graph, unfreeze, PreparedBackbone.OutputName, where);
        var network = OnnxBlock.Import(graph, plan, where);
        var (frozenBytes, shape) = OnnxBlock.FrozenGraph(prepared, plan.CutTensor, where);
        plan = plan with { CutShape = shape };
        var cut = new BackboneCut(plan, network, prepared with { OnnxBytes = frozenBytes, FeatureSize = plan.CutSize }, shape);
        log($"fine-tuning: {plan}; {cut.TrainableWeights:N0} trainable weights");
        foreach (var p in network.Parameters.Where(p => !p.Trainable))
            log($"warning: weight '{p.Name}' is also used below the cut and stays frozen");
        return cut;
    }

    /// <summary>Runs cut activations (ONNX order <c>[C,H,W]</c> per image) through the trainable top; one feature vector per image.</summary>
    public List<float[]> Features(IReadOnlyList<float[]> activations)
    {
        var result = new List<float[]>(activations.Count);
        for (var start = 0; start < activations.Count; start += InferenceBatch)
        {
            var batch = activations.Skip(start).Take(InferenceBatch).ToList();
            var output = Network.Forward(Act.FromImages(batch, Shape[0], Shape[1], Shape[2]));
            for (var n = 0; n < batch.Count; n++)
                result.Add(output.Image(n));
        }
        return result;
    }
}
