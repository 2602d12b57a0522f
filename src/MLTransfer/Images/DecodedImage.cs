using Microsoft.ML.Data;

namespace MLTransfer.Images;

/// <summary>An opaque image at the backbone's input size, as BGRA bytes (alpha always 255).</summary>
/// <param name="Width">Width in pixels.</param>
/// <param name="Height">Height in pixels.</param>
/// <param name="Bgra">Row-major B, G, R, A bytes.</param>
internal sealed record DecodedImage(int Width, int Height, byte[] Bgra)
{
    /// <summary>Wraps the pixels as an ML.NET image for the saved model's pipeline.</summary>
    public MLImage ToMLImage() => MLImage.CreateFromPixels(Width, Height, MLPixelFormat.Bgra32, Bgra);

    /// <summary>
    /// Writes the raw 0..255 pixel planes (channel-major, as ML.NET's <c>ExtractPixels</c> with
    /// <c>interleavePixelColors: false</c> produces them) into <paramref name="destination"/>.
    /// </summary>
    /// <param name="destination">Span of length 3 × Width × Height.</param>
    /// <param name="bgr">True for B, G, R plane order; false for R, G, B.</param>
    public void WritePlanes(Span<float> destination, bool bgr = false)
    {
        var plane = Width * Height;
        if (destination.Length != 3 * plane)
            throw new ArgumentException($"Destination needs {3 * plane} floats, has {destination.Length}.", nameof(destination));
        var (r, b) = bgr ? (2 * plane, 0) : (0, 2 * plane);
        var px = Bgra;
        for (int i = 0, o = 0; i < plane; i++, o += 4)
        {
            destination[b + i] = px[o];
            destination[plane + i] = px[o + 1];
            destination[r + i] = px[o + 2];
        }
    }
}
