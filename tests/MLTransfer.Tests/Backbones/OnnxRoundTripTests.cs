using Google.Protobuf;
using MLTransfer.Backbones.Onnx;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;
using static MLTransfer.Tests.Backbones.BackboneTestSupport;

namespace MLTransfer.Tests.Backbones;

[TestFixture]
public class OnnxRoundTripTests
{
    [Test]
    public void MobileNetV2_ParseThenSerialize_GivesIdenticalBytes()
    {
        var original = ReadShared(MobileNetV2Path);
        var model = OnnxModelIO.Parse(original, MobileNetV2Path);
        var written = OnnxModelIO.Serialize(model);

        Assert.That(written, Has.Length.EqualTo(original.Length));
        Assert.That(written.AsSpan().SequenceEqual(original), Is.True, "re-serialized bytes differ from the file");
    }

    [Test]
    public void MobileNetV2_ParsedFields_MatchTheReadme()
    {
        var model = OnnxModelIO.Load(MobileNetV2Path);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(model.IrVersion, Is.EqualTo(7));
            Assert.That(model.OpsetImport.Single().Version, Is.EqualTo(13));
            Assert.That(model.Graph.Node, Has.Count.EqualTo(100));
            Assert.That(model.Graph.Node.Count(n => n.OpType == "Conv"), Is.EqualTo(52));
            Assert.That(model.Graph.Node.Count(n => n.OpType == "Clip"), Is.EqualTo(35));
            Assert.That(model.Graph.Input.Single().Name, Is.EqualTo("input"));
            Assert.That(model.Graph.Output.Single().Name, Is.EqualTo("logits"));
            var parameters = model.Graph.Initializer.Sum(t => t.Dims.Aggregate(1L, (a, d) => a * d));
            Assert.That(parameters, Is.EqualTo(3_489_099));
        }
    }

    [Test]
    public void TinyResNet_SurvivesRoundTrip()
    {
        var model = OnnxFixtures.TinyResNet();
        var bytes = model.ToByteArray();
        var parsed = OnnxModelIO.Parse(bytes, "tiny");

        Assert.That(parsed, Is.EqualTo(model));
        Assert.That(parsed.ToByteArray(), Is.EqualTo(bytes));
    }

    [Test]
    public void FieldsOutsideTheSubset_AreKeptByTheRoundTrip()
    {
        // ModelProto.functions (25) is not in our .proto; a model that uses it must come back unchanged,
        // not silently lose it.
        var stream = new MemoryStream();
        var output = new CodedOutputStream(stream);
        OnnxFixtures.TinyResNet().WriteTo(output);
        output.WriteTag(25, WireFormat.WireType.LengthDelimited);
        output.WriteBytes(ByteString.CopyFromUtf8("opaque function payload"));
        output.Flush();
        var bytes = stream.ToArray();

        var parsed = OnnxModelIO.Parse(bytes, "with-unknown-field");
        Assert.That(parsed.ToByteArray(), Is.EqualTo(bytes));
    }
}
