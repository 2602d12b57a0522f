namespace MLTransfer.Backbones.Catalog;

/// <summary>
/// The backbones MLTransfer knows without any configuration, in order of default preference.
/// Every checksum and size here was taken from a public source named in the record's
/// <see cref="BackboneDescription.Source"/>; nothing is guessed.
/// </summary>
public static class BuiltInBackbones
{
    private const string ZooMedia = "https://media.githubusercontent.com/media/onnx/models/main/";
    private const string ZooRaw = "https://github.com/onnx/models/raw/main/";

    private static IReadOnlyList<string> ZooUrls(string path) => [ZooMedia + path, ZooRaw + path];

    /// <summary>Mean 0.5 / std 0.5 on [0,1] pixels, i.e. <c>pixel / 127.5 - 1</c>.</summary>
    private static readonly IReadOnlyList<float> Half = [0.5f, 0.5f, 0.5f];

    /// <summary>torchvision / MXNet Gluon ImageNet mean (RGB).</summary>
    private static readonly IReadOnlyList<float> ImageNetMean = [0.485f, 0.456f, 0.406f];

    /// <summary>torchvision / MXNet Gluon ImageNet std (RGB).</summary>
    private static readonly IReadOnlyList<float> ImageNetStd = [0.229f, 0.224f, 0.225f];

    /// <summary>MobileNetV2 1.0/224, converted from Coral's TFLite model; offline only.</summary>
    public static BackboneDescription MobileNetV2 { get; } = new()
    {
        Name = "mobilenet-v2",
        Family = "mobilenet",
        FileName = "mobilenet_v2_1.0_224.onnx",
        Urls = [],
        Sha256 = "e9067399bf7adc64295ccf94083e12d44168dfc8c56aad2321029a8b47fbdf9b",
        SizeBytes = 13_992_377,
        InputName = "input",
        InputWidth = 224,
        InputHeight = 224,
        Layout = "NCHW",
        ResizeMode = ResizeMode.Fill,
        ChannelOrder = ChannelOrder.Rgb,
        Mean = Half,
        Std = Half,
        FeatureTensor = "features",
        FeatureSize = 1280,
        Licence = "Apache-2.0",
        Source = "github.com/google-coral/test_data@104342d2d3480b3e66203073dac24f4e2dbb4c41 " +
                 "mobilenet_v2_1.0_224_quant.tflite, dequantized to float32 ONNX; checksum, size, " +
                 "input and feature tensor from the offline folder's README.md (shared/models)",
    };

    /// <summary>MobileNetV1 0.75/192, converted from Coral's TFLite model; offline only.</summary>
    public static BackboneDescription MobileNetV1075192 { get; } = new()
    {
        Name = "mobilenet-v1-0.75-192",
        Family = "mobilenet",
        FileName = "mobilenet_v1_0.75_192.onnx",
        Urls = [],
        Sha256 = "bd93b4314510baa4e619114c978a76668a8314f5718e8c4427dba5db4ab7d934",
        SizeBytes = 10_334_712,
        InputName = "input",
        InputWidth = 192,
        InputHeight = 192,
        Layout = "NCHW",
        ResizeMode = ResizeMode.Fill,
        ChannelOrder = ChannelOrder.Rgb,
        Mean = Half,
        Std = Half,
        // The README says "the input of the Gemm classifier, 768-d"; the graph names that value
        // "features" (Flatten output), like the MobileNetV2 conversion made with the same script.
        FeatureTensor = "features",
        FeatureSize = 768,
        Licence = "Apache-2.0",
        Source = "github.com/google-coral/test_data@104342d2d3480b3e66203073dac24f4e2dbb4c41 " +
                 "mobilenet_v1_0.75_192_quant.tflite, dequantized to float32 ONNX; checksum, size and " +
                 "input from the offline folder's README.md (shared/models)",
    };

    /// <summary>ResNet18 v2 (MXNet Gluon) from the ONNX model zoo; the download fallback.</summary>
    public static BackboneDescription ResNet18V2 { get; } = new()
    {
        Name = "resnet18-v2",
        Family = "resnet",
        FileName = "resnet18-v2-7.onnx",
        Urls = ZooUrls("validated/vision/classification/resnet/model/resnet18-v2-7.onnx"),
        Sha256 = "3b4d048057854022232aa20bf68262e31718ab7119a17f920b8a2dc1433f824b",
        SizeBytes = 46_806_737,
        InputName = "data",
        InputWidth = 224,
        InputHeight = 224,
        Layout = "NCHW",
        // Zoo README: shortest side to 256 keeping aspect ratio, then centre crop 224 => IsoCrop
        // (ML.NET's IsoCrop scales straight to 224 and crops, which is the same shape of transform).
        ResizeMode = ResizeMode.IsoCrop,
        ChannelOrder = ChannelOrder.Rgb,
        Mean = ImageNetMean,
        Std = ImageNetStd,
        // GlobalAveragePool resnetv22_pool1_fwd -> Reshape resnetv22_flatten0_reshape0 [N,512]
        // -> Gemm resnetv22_dense0_fwd (graph output).
        FeatureTensor = "resnetv22_flatten0_reshape0",
        FeatureSize = 512,
        Licence = "Apache-2.0",
        Source = "ONNX model zoo github.com/onnx/models validated/vision/classification/resnet/model/" +
                 "resnet18-v2-7.onnx (MXNet Gluon ResNet18-v2, opset 7); sha256 and size from its Git LFS " +
                 "pointer (commit 2a67a85e670e61bf9819e9df6dae3771974552ff); preprocessing from the resnet README",
    };

    /// <summary>ResNet50 v2 (MXNet Gluon) from the ONNX model zoo.</summary>
    public static BackboneDescription ResNet50V2 { get; } = new()
    {
        Name = "resnet50-v2",
        Family = "resnet",
        FileName = "resnet50-v2-7.onnx",
        Urls = ZooUrls("validated/vision/classification/resnet/model/resnet50-v2-7.onnx"),
        Sha256 = "1e80e8a7c8eec8e8b20c440d7dd7f2f8590779c7c2859dc4514870dc463845d3",
        SizeBytes = 102_442_450,
        InputName = "data",
        InputWidth = 224,
        InputHeight = 224,
        Layout = "NCHW",
        ResizeMode = ResizeMode.IsoCrop,
        ChannelOrder = ChannelOrder.Rgb,
        Mean = ImageNetMean,
        Std = ImageNetStd,
        FeatureTensor = null, // detected: input of the final Gemm (resnetv24_dense0_fwd)
        FeatureSize = 2048,
        Licence = "Apache-2.0",
        Source = "ONNX model zoo github.com/onnx/models validated/vision/classification/resnet/model/" +
                 "resnet50-v2-7.onnx (MXNet Gluon ResNet50-v2, opset 7); sha256 and size from its Git LFS " +
                 "pointer (vision/classification/resnet/model/resnet50-v2-7.onnx at commit " +
                 "b9a54e89508f101a1611cd64f4ef56b9cb62c7cf); input 'data' [-1,3,224,224] and output " +
                 "'resnetv24_dense0_fwd' from the resnet README",
    };

    /// <summary>MobileNetV2 1.0 (MXNet Gluon) from the ONNX model zoo.</summary>
    public static BackboneDescription MobileNetV2Zoo { get; } = new()
    {
        Name = "mobilenetv2-7",
        Family = "mobilenet",
        FileName = "mobilenetv2-7.onnx",
        Urls = ZooUrls("validated/vision/classification/mobilenet/model/mobilenetv2-7.onnx"),
        Sha256 = "c1c513582d56afceff8516c73804e484c81c6a830712ab6d682253f4a3cd042f",
        SizeBytes = 14_246_826,
        InputName = "data",
        InputWidth = 224,
        InputHeight = 224,
        Layout = "NCHW",
        ResizeMode = ResizeMode.IsoCrop,
        ChannelOrder = ChannelOrder.Rgb,
        Mean = ImageNetMean,
        Std = ImageNetStd,
        FeatureTensor = null, // detected; the pooled activation is mobilenetv20_features_pool0_fwd
        FeatureSize = 1280,
        Licence = "Apache-2.0",
        Source = "ONNX model zoo github.com/onnx/models validated/vision/classification/mobilenet/model/" +
                 "mobilenetv2-7.onnx (MXNet Gluon MobileNetV2 1.0, opset 7); sha256 and size from its Git LFS " +
                 "pointer (vision/classification/mobilenet/model/mobilenetv2-7.onnx at commit " +
                 "13fcb614fdedcc09864c0691c080ccf82ca3b85b); preprocessing from the mobilenet README",
    };

    /// <summary>Inception v1 (GoogLeNet reproduction, Caffe2) from the ONNX model zoo.</summary>
    public static BackboneDescription InceptionV1 { get; } = new()
    {
        Name = "inception-v1",
        Family = "inception",
        FileName = "inception-v1-8.onnx",
        Urls = ZooUrls("validated/vision/classification/inception_and_googlenet/inception_v1/model/inception-v1-8.onnx"),
        Sha256 = "ec956d393dd467b6d9e0b17b8c8227c534b936bfbcdc82343a3a7238375775f0",
        SizeBytes = 28_020_356,
        InputName = "data_0",
        InputWidth = 224,
        InputHeight = 224,
        Layout = "NCHW",
        // Caffe-style: raw 0..255 pixels, BGR planes, ImageNet mean subtracted, no scaling; the image
        // is resized straight to 224x224 (no crop) in the evaluation that produced the zoo's accuracy.
        ResizeMode = ResizeMode.Fill,
        ChannelOrder = ChannelOrder.Bgr,
        Mean = [103.939f / 255f, 116.779f / 255f, 123.68f / 255f],
        Std = [1f / 255f, 1f / 255f, 1f / 255f],
        FeatureTensor = null, // detected: input of the final classifier (1024-d pool5 for GoogLeNet)
        FeatureSize = 1024,
        Licence = "MIT",
        Source = "ONNX model zoo github.com/onnx/models validated/vision/classification/inception_and_googlenet/" +
                 "inception_v1/model/inception-v1-8.onnx (Caffe2 Inception v1, opset 8); sha256 and size from its " +
                 "Git LFS pointer (commit 4c46cd00fbdb7cd30b6c1c17ab54f2e1f4f7b177); input data_0 [1,3,224,224] " +
                 "and output prob_1 from the inception_v1 README; preprocessing (resize 224x224, subtract " +
                 "R123.68 G116.779 B103.939, BGR, no scaling) from intel/neural-compressor's ONNX zoo " +
                 "inception evaluation script, which produced the README's accuracy",
    };

    /// <summary>All built-in records, in order of default preference.</summary>
    public static IReadOnlyList<BackboneDescription> All { get; } =
        [MobileNetV2, MobileNetV1075192, ResNet18V2, ResNet50V2, MobileNetV2Zoo, InceptionV1];

    /// <summary>Name of the backbone downloaded when no catalog entry is available locally.</summary>
    public const string DownloadFallbackName = "resnet18-v2";
}
