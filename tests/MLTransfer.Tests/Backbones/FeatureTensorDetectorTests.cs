using MLTransfer.Backbones;
using MLTransfer.Backbones.Onnx;
using MLTransfer.Tests.Fixtures;
using NUnit.Framework;
using static MLTransfer.Tests.Backbones.BackboneTestSupport;

namespace MLTransfer.Tests.Backbones;

[TestFixture]
public class FeatureTensorDetectorTests
{
    [Test]
    public void MobileNetV2_FeaturesAreTheGemmInput_1280Wide()
    {
        var info = FeatureTensorDetector.Detect(OnnxModelIO.Load(MobileNetV2Path));

        Assert.That(info, Is.EqualTo(new FeatureTensorInfo("features", "classifier", "Gemm", 1280, NeedsFlatten: false)));
    }

    [Test]
    public void MobileNetV1_FeaturesAre768Wide()
    {
        var info = FeatureTensorDetector.Detect(OnnxModelIO.Load(MobileNetV1Path));

        Assert.That(info, Is.EqualTo(new FeatureTensorInfo("features", "classifier", "Gemm", 768, NeedsFlatten: false)));
    }

    [TestCase(TinyHead.Gemm, "features", "fc", "Gemm", false)]
    [TestCase(TinyHead.MatMulAdd, "features", "fc/MatMul", "MatMul", false)]
    [TestCase(TinyHead.Conv1x1, "pooled", "fc_conv", "Conv", true)]
    public void TinyResNet_FindsTheClassifierInput(TinyHead head, string tensor, string node, string op, bool flatten)
    {
        // width 24 differs from the 10 classes, so taking the wrong weight dimension would be caught.
        var info = FeatureTensorDetector.Detect(OnnxFixtures.TinyResNet(head, width: 24));

        Assert.That(info, Is.EqualTo(new FeatureTensorInfo(tensor, node, op, 24, flatten)));
    }

    [Test]
    public void GemmWithoutTransB_ReadsTheFirstWeightDimension()
    {
        var model = OnnxFixtures.TinyResNet(TinyHead.Gemm, width: 24, classes: 10);
        var gemm = model.Graph.Node.Single(n => n.OpType == "Gemm");
        gemm.Attribute.Clear();
        var weight = model.Graph.Initializer.Single(t => t.Name == "fc.weight");
        weight.Dims.Clear();
        weight.Dims.AddRange([24, 10]); // [in, out] when transB = 0

        Assert.That(FeatureTensorDetector.Detect(model).FeatureSize, Is.EqualTo(24));
    }

    [Test]
    public void NoClassifier_ThrowsWithModelNameAndRemedy()
    {
        var ex = Assert.Throws<MLTransferException>(() =>
            FeatureTensorDetector.Detect(OnnxFixtures.NoClassifier(), source: "plain_conv.onnx"));

        Assert.That(ex!.Message, Does.Contain("No classifier node"));
        Assert.That(ex.Message, Does.Contain("plain_conv.onnx"));
        Assert.That(ex.Fix, Does.Contain("--feature-tensor"));
        Assert.That(ex.Fix, Does.Contain("'out'"), "the remedy should list tensor names to choose from");
    }

    [Test]
    public void Pointwise1x1ConvNotAfterPooling_IsNotAClassifier()
    {
        // Turn the Conv1x1 head's input into the un-pooled block output: now it is an ordinary layer.
        var model = OnnxFixtures.TinyResNet(TinyHead.Conv1x1);
        var conv = model.Graph.Node.Single(n => n.Name == "fc_conv");
        conv.Input[0] = "block_out";

        Assert.Throws<MLTransferException>(() => FeatureTensorDetector.Detect(model));
    }

    [Test]
    public void ResidualAdd_EndsTheWalk()
    {
        // Output the residual sum directly: Add with two data inputs must not be walked through.
        var model = OnnxFixtures.TinyResNet();
        model.Graph.Output[0].Name = "sum";

        Assert.Throws<MLTransferException>(() => FeatureTensorDetector.Detect(model));
    }

    [Test]
    public void NoImageInput_Throws()
    {
        var ex = Assert.Throws<MLTransferException>(() =>
            FeatureTensorDetector.Detect(OnnxFixtures.NoImageInput(), source: "vector.onnx"));

        Assert.That(ex!.Message, Does.Contain("no image-like 4-D input"));
        Assert.That(ex.Message, Does.Contain("'x' [N,20]"));
        Assert.That(ex.Where, Is.EqualTo("vector.onnx"));
    }

    [Test]
    public void UserTensor_WithDeclaredShape_GetsItsSize()
    {
        var info = FeatureTensorDetector.Detect(OnnxModelIO.Load(MobileNetV2Path), "pooled");

        Assert.That(info, Is.EqualTo(new FeatureTensorInfo("pooled", null, null, 1280, NeedsFlatten: true)));
        Assert.That(info.UserSpecified, Is.True);
    }

    [Test]
    public void UserTensor_WithoutDeclaredShape_LeavesSizeUnknown()
    {
        var info = FeatureTensorDetector.Detect(OnnxFixtures.TinyResNet(declareValueInfo: false), "block_out");

        Assert.That(info.FeatureTensor, Is.EqualTo("block_out"));
        Assert.That(info.FeatureSize, Is.Null);
        Assert.That(info.NeedsFlatten, Is.True);
    }

    [TestCase("no_such_tensor")]
    [TestCase("fc.weight")]
    public void UserTensor_ThatIsNotAComputedValue_Throws(string name)
    {
        var ex = Assert.Throws<MLTransferException>(() =>
            FeatureTensorDetector.Detect(OnnxFixtures.TinyResNet(), name, "tiny.onnx"));

        Assert.That(ex!.Message, Does.Contain($"'{name}' does not exist"));
        Assert.That(ex.Message, Does.Contain("tiny.onnx"));
    }
}
