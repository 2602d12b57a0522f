using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;
using MLTransfer.Export;
using MLTransfer.Images;

namespace MLTransfer.Training;

/// <summary>
/// Decodes training images by running the image steps of the chain the estimator saves (LoadImages or
/// the bytes decoder, then ResizeImages), so training features are computed from exactly the pixels the
/// saved model will see. One prediction engine per thread, since engines are not thread-safe.
/// </summary>
internal sealed class ChainImageLoader : IDisposable
{
    private sealed class PathRow
    {
        public string Path { get; set; } = "";
    }

    private sealed class ImageRow
    {
        [ImageType(1, 1)]
        public MLImage? Image { get; set; }
    }

    private readonly ThreadLocal<Func<string, byte[], MLImage?>> _decode;
    private readonly List<IDisposable> _engines = [];

    /// <summary>Creates a loader for paths (<paramref name="bytes"/> false) or encoded bytes.</summary>
    public ChainImageLoader(bool bytes, int width, int height, Images.ResizeMode mode)
    {
        var ml = new MLContext();
        new ImageTypeAttribute(1, 1).Register();
        var output = SchemaDefinition.Create(typeof(ImageRow));
        output[nameof(ImageRow.Image)].ColumnType = new ImageDataViewType(height, width);
        new ImageTypeAttribute(height, width).Register();
        var resize = ml.Transforms.ResizeImages(nameof(ImageRow.Image), width, height, ImageBytesDecoding.OutputColumn, ModelPipeline.ToMLNet(mode));
        if (bytes)
        {
            var model = ml.Transforms.CustomMapping(new ImageBytesDecoding().GetMapping(), ImageBytesDecoding.ContractName).Append(resize)
                .Fit(ml.Data.LoadFromEnumerable(Array.Empty<ImageBytesDecoding.Input>()));
            _decode = new(() =>
            {
                var engine = ml.Model.CreatePredictionEngine<ImageBytesDecoding.Input, ImageRow>(model, outputSchemaDefinition: output);
                lock (_engines) _engines.Add(engine);
                return (_, b) => engine.Predict(new ImageBytesDecoding.Input { Bytes = b }).Image;
            });
        }
        else
        {
            var model = ml.Transforms.LoadImages(ImageBytesDecoding.OutputColumn, null, nameof(PathRow.Path)).Append(resize)
                .Fit(ml.Data.LoadFromEnumerable(Array.Empty<PathRow>()));
            _decode = new(() =>
            {
                var engine = ml.Model.CreatePredictionEngine<PathRow, ImageRow>(model, outputSchemaDefinition: output);
                lock (_engines) _engines.Add(engine);
                return (p, _) => engine.Predict(new PathRow { Path = p }).Image;
            });
        }
    }

    /// <summary>The image as the saved chain sizes it, from its path or its bytes.</summary>
    /// <exception cref="ImageDecodeException">ML.NET (or the bytes decoder) could not load it.</exception>
    public DecodedImage Decode(string path, byte[] bytes)
    {
        // ML.NET's loader decodes more formats than MLTransfer accepts (e.g. WBMP); training on those would
        // disagree with ImageDecoder, the prediction side and the service.
        if (bytes.Length > 0 && ImageFormat.Detect(bytes) is null)
            throw new ImageDecodeException(ImageFormat.NotAcceptedReason, path);
        MLImage? image;
        try
        {
            image = _decode.Value!(path, bytes);
        }
        catch (ImageDecodeException)
        {
            throw;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            throw new ImageDecodeException(e.InnerException is ImageDecodeException inner ? inner.Reason : $"ML.NET could not load the image: {e.Message}", path, e);
        }
        using (image)
        {
            if (image is null)
                throw new ImageDecodeException("ML.NET loaded no image", path);
            var pixels = image.Pixels.ToArray();
            if (image.PixelFormat == MLPixelFormat.Rgba32)
                for (var i = 0; i < pixels.Length; i += 4)
                    (pixels[i], pixels[i + 2]) = (pixels[i + 2], pixels[i]);
            return new DecodedImage(image.Width, image.Height, pixels);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_engines)
            _engines.ForEach(e => e.Dispose());
        _decode.Dispose();
    }
}
