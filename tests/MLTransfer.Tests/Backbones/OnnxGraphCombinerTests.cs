using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using MLTransfer.Backbones.Onnx;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;
using static MLTransfer.Tests.Backbones.BackboneTestSupport;

namespace MLTransfer.Tests.Backbones;

/// <summary>Joining a preprocessing graph in front of a headless backbone: renaming, opsets, and the batch dimension.</summary>
[TestFixture]
public class OnnxGraphCombinerTests
{
    private const int Size = 32;

    private static float[] Run(ModelProto model, string input, float[] pixels, int batch)
    {
        using var session = new InferenceSession(model.ToByteArray());
        using var results = session.Run([NamedOnnxValue.CreateFromTensor(input, new DenseTensor<float>(pixels, [batch, 3, Size, Size]))]);
        return results.Single().AsTensor<float>().ToArray();
    }

    /// <summary>The reference: each image through the first graph, then its output through the second, one at a time.</summary>
    private static float[] Sequential(ModelProto first, ModelProto second, float[] pixels, int images)
    {
        var perImage = 3 * Size * Size;
        var result = new List<float>();
        for (var i = 0; i < images; i++)
        {
            var pre = Run(first, OnnxFixtures.PreprocessInput, pixels.AsSpan(i * perImage, perImage).ToArray(), 1);
            result.AddRange(Run(second, OnnxFixtures.InputName, pre, 1));
        }
        return result.ToArray();
    }

    [Test]
    public void Combine_TwoBatchOneGraphs_GivesOneGraphWithADynamicBatch_ThatComputesBothInSequence()
    {
        var first = OnnxFixtures.TinyPreprocess();
        var second = OnnxFixtures.TinyHeadless(fixedBatch: 1, opset: 8);

        var combined = OnnxGraphCombiner.Combine(first, second, "test pair", "test");

        Assert.That(combined.DynamicBatch, Is.True);
        Assert.That(combined.Opset, Is.EqualTo(8));
        Assert.That(combined.RenamedNames, Is.Empty);
        Assert.That(combined.BatchNote, Does.Contain("dynamic"));
        var graph = combined.Model.Graph;
        Assert.That(graph.Input.Single().Name, Is.EqualTo(OnnxFixtures.PreprocessInput));
        Assert.That(OnnxShapes.FormatShape(graph.Input.Single()), Is.EqualTo("[N,3,32,32]"));
        Assert.That(OnnxShapes.FormatShape(graph.Output.Single()), Is.EqualTo("[N,8,1,1]"));
        Assert.That(combined.Model.MetadataProps.Single(p => p.Key == OnnxGraphCombiner.MetadataKey).Value, Does.StartWith("test pair; opset 8 + 8 -> 8"));

        var pixels = RandomPixels(3, Size, Size, seed: 8);
        var batched = Run(combined.Model, OnnxFixtures.PreprocessInput, pixels, 3);
        Assert.That(MaxAbsDiff(batched, Sequential(first, second, pixels, 3)), Is.LessThan(1e-5));
    }

    [Test]
    public void Combine_RenamesNamesOfTheFirstGraphThatTheSecondUses()
    {
        var first = OnnxFixtures.TinyPreprocess(clashWithTinyHeadless: true);
        var second = OnnxFixtures.TinyHeadless(fixedBatch: 1, opset: 8);

        var combined = OnnxGraphCombiner.Combine(first, second, "clashing pair", "test");

        Assert.That(combined.RenamedNames, Is.EquivalentTo(new[] { "stem", "b1", "sum", "block_out", "pool" }));
        var outputs = combined.Model.Graph.Node.SelectMany(n => n.Output).ToList();
        Assert.That(outputs, Is.Unique, "every value has one producer");
        Assert.That(combined.Model.Graph.Node.Where(n => n.Name.Length > 0).Select(n => n.Name), Is.Unique);
        var pixels = RandomPixels(2, Size, Size, seed: 9);
        Assert.That(MaxAbsDiff(Run(combined.Model, OnnxFixtures.PreprocessInput, pixels, 2), Sequential(first, second, pixels, 2)), Is.LessThan(1e-5));
    }

    [Test]
    public void Combine_MovesTheOlderGraphToTheNewerOpset()
    {
        var first = OnnxFixtures.TinyPreprocess(opset: 8);
        var second = OnnxFixtures.TinyHeadless(opset: 13);

        var combined = OnnxGraphCombiner.Combine(first, second, "mixed opsets", "test");

        Assert.That(combined.Opset, Is.EqualTo(13));
        Assert.That(combined.Model.OpsetImport.Single().Version, Is.EqualTo(13));
        var split = combined.Model.Graph.Node.Single(n => n.OpType == "Split");
        Assert.That(split.Input, Has.Count.EqualTo(2), "opset 13 takes the split sizes as an input");
        Assert.That(split.Attribute.Select(a => a.Name), Is.EqualTo(new[] { "axis" }));
        var pixels = RandomPixels(2, Size, Size, seed: 10);
        Assert.That(MaxAbsDiff(Run(combined.Model, OnnxFixtures.PreprocessInput, pixels, 2), Sequential(first, second, pixels, 2)), Is.LessThan(1e-5));
    }

    [Test]
    public void Combine_DropsBatchNormSpatialWhenMovingPastOpset9_AndRefusesSpatialZero()
    {
        var first = OnnxFixtures.TinyPreprocess(fixedBatch: null, opset: 13);
        var second = OnnxFixtures.TinyHeadless(opset: 8);
        var bn = second.Graph.Node.Single(n => n.OpType == "BatchNormalization");
        bn.Attribute.Add(new AttributeProto { Name = "spatial", I = 1, Type = AttributeProto.Types.AttributeType.Int });

        var combined = OnnxGraphCombiner.Combine(first, second, "bn", "test");
        Assert.That(combined.Model.Graph.Node.Single(n => n.OpType == "BatchNormalization").Attribute.Select(a => a.Name), Does.Not.Contain("spatial"));
        var pixels = RandomPixels(2, Size, Size, seed: 11);
        Assert.That(MaxAbsDiff(Run(combined.Model, OnnxFixtures.PreprocessInput, pixels, 2), Sequential(first, second, pixels, 2)), Is.LessThan(1e-5));

        bn.Attribute.Single(a => a.Name == "spatial").I = 0;
        var ex = Assert.Throws<MLTransferException>(() => OnnxGraphCombiner.Combine(first, second, "bn", "pair.onnx"));
        Assert.That(ex!.Message, Does.Contain("(BatchNormalization) from opset 8 to opset 13: spatial=0"));
    }

    [Test]
    public void Combine_RefusesAnOperatorWhoseChangesItDoesNotKnow()
    {
        var first = OnnxFixtures.TinyPreprocess(opset: 8);
        var upsample = new NodeProto { OpType = "Upsample", Name = "old_upsample" };
        upsample.Input.Add("PreprocessedInput");
        upsample.Output.Add("upsampled");
        first.Graph.Node.Add(upsample);
        first.Graph.Output[0].Name = "upsampled";

        var ex = Assert.Throws<MLTransferException>(() => OnnxGraphCombiner.Combine(first, OnnxFixtures.TinyHeadless(opset: 13), "pair", "pair.onnx"));
        Assert.That(ex!.Message, Does.Contain("node 'old_upsample' (Upsample) from opset 8 to opset 13"));
        Assert.That(ex.Where, Is.EqualTo("pair.onnx"));
        Assert.That(ex.Fix, Is.Not.Empty);
    }

    [Test]
    public void Combine_KeepsTheBatchFixed_WhenAReshapeBakesItIn_AndNamesTheNode()
    {
        var second = OnnxFixtures.TinyHeadless(fixedBatch: 1, opset: 8);
        var shape = new TensorProto { Name = "flat_shape", DataType = (int)TensorProto.Types.DataType.Int64 };
        shape.Dims.Add(2);
        shape.Int64Data.AddRange([1, 8]);
        second.Graph.Initializer.Add(shape);
        var reshape = new NodeProto { OpType = "Reshape", Name = "flatten_to_batch_one" };
        reshape.Input.AddRange([OnnxFixtures.HeadlessOutput, "flat_shape"]);
        reshape.Output.Add("flat");
        second.Graph.Node.Add(reshape);
        second.Graph.Output.Clear();
        second.Graph.Output.Add(new ValueInfoProto { Name = "flat", Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1 } } });

        var combined = OnnxGraphCombiner.Combine(OnnxFixtures.TinyPreprocess(), second, "pinned", "test");

        Assert.That(combined.DynamicBatch, Is.False);
        Assert.That(combined.BatchNote, Does.Contain("stays fixed at 1").And.Contain("'flatten_to_batch_one' (Reshape)").And.Contain("[1,8]"));
        Assert.That(OnnxShapes.FormatShape(combined.Model.Graph.Input.Single()), Is.EqualTo("[1,3,32,32]"));
    }

    [Test]
    public void Combine_RefusesGraphsThatDoNotFit()
    {
        var ex = Assert.Throws<MLTransferException>(() =>
            OnnxGraphCombiner.Combine(OnnxFixtures.TinyPreprocess(size: 32), OnnxFixtures.TinyHeadless(size: 16), "pair", "pair.onnx"));
        Assert.That(ex!.Message, Does.Contain("'PreprocessedInput' float32 [1,3,32,32] does not fit the second graph's input 'image' float32 [N,3,16,16]"));
    }
}
