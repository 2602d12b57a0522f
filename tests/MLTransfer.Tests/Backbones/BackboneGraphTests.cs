using MLTransfer.Backbones;
using MLTransfer.Backbones.Onnx;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;
using static MLTransfer.Tests.Backbones.BackboneTestSupport;

namespace MLTransfer.Tests.Backbones;

/// <summary>Graph surgery on the small fixtures, checked by running the result in ONNX Runtime.</summary>
[TestFixture]
public class BackboneGraphTests
{
    [Test]
    public void Prepare_RewiresInputAndOutput_AndKeepsTheRest()
    {
        var original = OnnxFixtures.TinyResNet();
        var prepared = BackboneGraph.Prepare(OnnxFixtures.Bytes(original), Tiny());
        var model = OnnxModelIO.Parse(prepared.OnnxBytes, "prepared");
        var g = model.Graph;

        using (Assert.EnterMultipleScope())
        {
            Assert.That(g.Input.Select(i => i.Name), Is.EqualTo(new[] { PreparedBackbone.InputName }));
            Assert.That(g.Input[0].ToString(), Does.Contain("\"dimParam\": \"N\"").And.Contain("\"dimValue\": \"32\""));
            Assert.That(g.Output.Select(o => o.Name), Is.EqualTo(new[] { PreparedBackbone.OutputName }));
            Assert.That(g.Output[0].Type.TensorType.ElemType, Is.EqualTo(1));
            Assert.That(g.Output[0].Type.TensorType.Shape.Dim.Select(d => d.DimValue), Is.EqualTo(new long[] { 0, 16 }));
            Assert.That(g.Output[0].Type.TensorType.Shape.Dim[0].DimParam, Is.EqualTo("N"));

            // Normalisation first, so the node list stays topologically sorted; Flatten last.
            Assert.That(g.Node.Take(2).Select(n => n.OpType), Is.EqualTo(new[] { "Mul", "Add" }));
            Assert.That(g.Node[0].Input[0], Is.EqualTo(PreparedBackbone.InputName));
            Assert.That(g.Node[1].Output[0], Is.EqualTo(OnnxFixtures.InputName));
            Assert.That(g.Node[^1].OpType, Is.EqualTo("Flatten"));
            Assert.That(g.Node[^1].Input[0], Is.EqualTo("features"));
            Assert.That(g.Node, Has.Count.EqualTo(original.Graph.Node.Count + 3));

            // Original nodes, initializers and opset untouched; two constants added.
            Assert.That(g.Node.Skip(2).Take(original.Graph.Node.Count), Is.EqualTo(original.Graph.Node));
            Assert.That(g.Initializer.Take(original.Graph.Initializer.Count), Is.EqualTo(original.Graph.Initializer));
            Assert.That(g.Initializer, Has.Count.EqualTo(original.Graph.Initializer.Count + 2));
            Assert.That(model.OpsetImport, Is.EqualTo(original.OpsetImport));
            Assert.That(model.MetadataProps.Single(kv => kv.Key == BackboneGraph.MetadataKey).Value,
                Does.Contain("Flatten('features') [N,16]"));

            Assert.That(prepared.FeatureSize, Is.EqualTo(16));
            Assert.That(prepared.OriginalInputName, Is.EqualTo(OnnxFixtures.InputName));
        }
    }

    [Test]
    public void Prepare_FoldsMeanAndStdIntoScaleAndBias()
    {
        var desc = Tiny() with { Mean = [0.485f, 0.456f, 0.406f], Std = [0.229f, 0.224f, 0.225f] };
        var model = OnnxModelIO.Parse(BackboneGraph.Prepare(OnnxFixtures.Bytes(OnnxFixtures.TinyResNet()), desc).OnnxBytes);
        var g = model.Graph;
        float[] Values(string name)
        {
            var raw = g.Initializer.Single(t => t.Name == name).RawData.ToByteArray();
            return Enumerable.Range(0, raw.Length / 4).Select(i => BitConverter.ToSingle(raw, i * 4)).ToArray();
        }

        var scale = Values(g.Node[0].Input[1]);
        var bias = Values(g.Node[1].Input[1]);
        for (var c = 0; c < 3; c++)
        {
            // For any pixel p: p * scale + bias == (p/255 - mean)/std.
            foreach (var p in new[] { 0f, 128f, 255f })
            {
                var expected = (p / 255.0 - desc.Mean[c]) / desc.Std[c];
                Assert.That(p * scale[c] + bias[c], Is.EqualTo(expected).Within(1e-5), $"channel {c}, pixel {p}");
            }
        }
    }

    [TestCase(TinyHead.Gemm)]
    [TestCase(TinyHead.Conv1x1)]
    [TestCase(TinyHead.MatMulAdd)]
    public void PreparedTinyResNet_RunsInOrt_AndMatchesTheOriginalFeatures(TinyHead head)
    {
        var originalBytes = OnnxFixtures.Bytes(OnnxFixtures.TinyResNet(head, width: 24));
        var desc = Tiny() with { Mean = [0.485f, 0.456f, 0.406f], Std = [0.229f, 0.224f, 0.225f] };
        var prepared = BackboneGraph.Prepare(originalBytes, desc);
        const int batch = 3;
        var raw = RandomPixels(batch, 32, 32, seed: 11);

        var (features, shape) = RunPrepared(prepared, raw, batch);
        var tensor = head == TinyHead.Conv1x1 ? "pooled" : "features";
        var expected = RunOriginalTensor(originalBytes, OnnxFixtures.InputName, tensor,
            Normalise(raw, batch, 32, 32, desc.Mean, desc.Std), [batch, 3, 32, 32]);

        Assert.That(shape, Is.EqualTo(new[] { batch, 24 }));
        Assert.That(prepared.FeatureSize, Is.EqualTo(24));
        Assert.That(MaxAbsDiff(features, expected), Is.LessThan(1e-4));
        Assert.That(features.Distinct().Count(), Is.GreaterThan(batch * 24 / 2), "features should not be constant");
    }

    [Test]
    public void UserTensorWithUnknownShape_SizeIsMeasuredByRunningTheGraph()
    {
        var bytes = OnnxFixtures.Bytes(OnnxFixtures.TinyResNet(width: 8, declareValueInfo: false));
        var prepared = BackboneGraph.Prepare(bytes, Tiny() with { FeatureTensor = "block_out" });

        Assert.That(prepared.FeatureSize, Is.EqualTo(8 * 32 * 32));
        Assert.That(prepared.Feature.FeatureSize, Is.EqualTo(8 * 32 * 32));
        var declared = OnnxModelIO.Parse(prepared.OnnxBytes).Graph.Output.Single().Type.TensorType.Shape.Dim[1];
        Assert.That(declared.DimValue, Is.EqualTo(8 * 32 * 32));
        var (_, shape) = RunPrepared(prepared, RandomPixels(2, 32, 32, 5), 2);
        Assert.That(shape, Is.EqualTo(new[] { 2, 8 * 32 * 32 }));
    }

    [Test]
    public void InitializerBackedInput_IsReplaced()
    {
        // Old exporters list a default value for the input as an initializer of the same name.
        var model = OnnxFixtures.TinyResNet();
        var zeros = new TensorProto { Name = OnnxFixtures.InputName, DataType = 1, RawData = Google.Protobuf.ByteString.CopyFrom(new byte[3 * 32 * 32 * 4]) };
        zeros.Dims.AddRange([1, 3, 32, 32]);
        model.Graph.Initializer.Add(zeros);

        var prepared = BackboneGraph.Prepare(OnnxFixtures.Bytes(model), Tiny());

        Assert.That(OnnxModelIO.Parse(prepared.OnnxBytes).Graph.Initializer.Any(t => t.Name == OnnxFixtures.InputName), Is.False);
        var (_, shape) = RunPrepared(prepared, RandomPixels(1, 32, 32, 1), 1);
        Assert.That(shape, Is.EqualTo(new[] { 1, 16 }));
    }

    [Test]
    public void MismatchedInputSize_ThrowsNamingBothShapes()
    {
        var desc = Tiny(size: 224) with { Name = "resnet18", FileName = "resnet18.onnx" };

        var ex = Assert.Throws<MLTransferException>(() =>
            BackboneGraph.Prepare(OnnxFixtures.Bytes(OnnxFixtures.TinyResNet()), desc));

        Assert.That(ex!.Message, Does.Contain("Mismatched backbone"));
        Assert.That(ex.Message, Does.Contain("[N,3,32,32]"), "actual shape");
        Assert.That(ex.Message, Does.Contain("[N,3,224,224]"), "expected shape");
        Assert.That(ex.Where, Is.EqualTo("resnet18.onnx"));
    }

    [Test]
    public void MismatchedFeatureSize_Throws()
    {
        var ex = Assert.Throws<MLTransferException>(() =>
            BackboneGraph.Prepare(OnnxFixtures.Bytes(OnnxFixtures.TinyResNet()), Tiny() with { FeatureSize = 512 }));

        Assert.That(ex!.Message, Does.Contain("512").And.Contain("16"));
    }

    [Test]
    public void NotAnOnnxFile_ThrowsNamingTheFile()
    {
        var path = Path.Combine(Path.GetTempPath(), $"mltransfer-{Guid.NewGuid():N}-not-a-model.onnx");
        File.WriteAllText(path, "This is a README, not a neural network.\n");
        try
        {
            var ex = Assert.Throws<MLTransferException>(() => BackboneGraph.Prepare(path, Tiny()));
            Assert.That(ex!.Message, Does.Contain($"{path} is not a readable ONNX model"));
            Assert.That(ex.Where, Is.EqualTo(path));
            Assert.That(ex.Fix, Is.Not.Null.And.Not.Empty);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Test]
    public void TruncatedModel_IsNotReadable()
    {
        var bytes = ReadShared(MobileNetV2Path);
        var truncated = bytes.AsSpan(0, bytes.Length / 2).ToArray();
        var desc = MobileNet("mobilenet_v2_1.0_224.onnx", 224);

        var ex = Assert.Throws<MLTransferException>(() => BackboneGraph.Prepare(truncated, desc));

        Assert.That(ex!.Message, Does.Contain("mobilenet_v2_1.0_224.onnx is not a readable ONNX model"));
    }

    [Test]
    public void EmptyBytes_AreNotAModel()
    {
        // An empty buffer is a valid empty protobuf message, so this checks the "looks like a model" test.
        var ex = Assert.Throws<MLTransferException>(() => BackboneGraph.Prepare(Array.Empty<byte>(), Tiny()));
        Assert.That(ex!.Message, Does.Contain("tiny_resnet.onnx is not a readable ONNX model"));
    }

    [Test]
    public void NoClassifier_PrepareFails()
    {
        var ex = Assert.Throws<MLTransferException>(() =>
            BackboneGraph.Prepare(OnnxFixtures.Bytes(OnnxFixtures.NoClassifier()), Tiny()));
        Assert.That(ex!.Message, Does.Contain("No classifier node"));
    }

    [Test]
    public void PreparingTwice_IsRejected()
    {
        var once = BackboneGraph.Prepare(OnnxFixtures.Bytes(OnnxFixtures.TinyResNet()), Tiny());

        var ex = Assert.Throws<MLTransferException>(() =>
            BackboneGraph.Prepare(once.OnnxBytes, Tiny()));
        Assert.That(ex!.Message, Does.Contain("already"));
    }

    [Test]
    public void Inspect_ReportsShapesAndDetectionError()
    {
        var summary = BackboneGraph.Inspect(OnnxFixtures.Bytes(OnnxFixtures.NoClassifier()), "plain.onnx");

        using (Assert.EnterMultipleScope())
        {
            Assert.That(summary.Inputs.Single().ToString(), Is.EqualTo("image: float32 [N,3,32,32]"));
            Assert.That(summary.Outputs.Single().ToString(), Is.EqualTo("out: float32 [N,4,32,32]"));
            Assert.That(summary.NodeCount, Is.EqualTo(1));
            Assert.That(summary.Opset, Is.EqualTo(13));
            Assert.That(summary.ParameterCount, Is.EqualTo(4 * 3 * 3 * 3 + 4));
            Assert.That(summary.Feature, Is.Null);
            Assert.That(summary.DetectionError, Does.Contain("No classifier node"));
            Assert.That(summary.Preprocessing, Is.Null);
        }
    }
}
