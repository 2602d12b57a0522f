using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using Microsoft.ML.Transforms.Image;
using MLTransfer.Images;

namespace MLTransfer.Training;

/// <summary>
/// The one non-stock step of a model that takes raw image bytes (<c>LoadRawImageBytes</c>): ML.NET has no
/// transform that decodes bytes, so this <c>CustomMapping</c> decodes them with <see cref="ImageDecoder"/>
/// (EXIF orientation, alpha flattened onto white) at their own size; the stock <c>ResizeImages</c> after it
/// sizes them for the backbone. ML.NET finds it by its contract name when MLTransfer.dll is loaded; call
/// <c>mlContext.ComponentCatalog.RegisterAssembly(typeof(ImageBytesDecoding).Assembly)</c> before
/// <c>Model.Load</c> in an app that has not otherwise touched MLTransfer.
/// </summary>
[CustomMappingFactoryAttribute(ContractName)]
public sealed class ImageBytesDecoding : CustomMappingFactory<ImageBytesDecoding.Input, ImageBytesDecoding.Output>
{
    /// <summary>The name the saved model refers to this step by.</summary>
    public const string ContractName = "MLTransfer.DecodeImageBytes.v1";

    /// <summary>Column the step reads: the encoded bytes.</summary>
    public const string InputColumn = "mltransfer_image_bytes";

    /// <summary>Column the step writes: the decoded image (any size).</summary>
    public const string OutputColumn = "mltransfer_image";

    static ImageBytesDecoding()
    {
        // The output declares a 1×1 image type: CustomMapping fixes column types at compile time, and the
        // real size varies per image. ML.NET builds MLImage getters only for registered image types.
        new ImageTypeAttribute(1, 1).Register();
    }

    /// <summary>Makes sure the output image type is registered before a chain is built or loaded.</summary>
    public ImageBytesDecoding()
    {
    }

    /// <summary>The input row.</summary>
    public sealed class Input
    {
        /// <summary>Encoded image bytes.</summary>
        [ColumnName(InputColumn)]
        public byte[] Bytes { get; set; } = [];
    }

    /// <summary>The output row.</summary>
    public sealed class Output
    {
        /// <summary>The decoded, upright, opaque image.</summary>
        [ColumnName(OutputColumn)]
        [ImageType(1, 1)]
        public MLImage? Image { get; set; }
    }

    /// <inheritdoc />
    public override Action<Input, Output> GetMapping() => Map;

    // A bad image fails the row with a message that says which problem it is, as LoadImages does for a
    // bad file; training skips such rows before they reach a model.
    private static void Map(Input input, Output output) => output.Image = ImageDecoder.DecodeUpright(input.Bytes, source: "image bytes").ToMLImage();
}
