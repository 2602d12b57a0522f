using System.Globalization;

namespace MLTransfer.Images;

/// <summary>
/// A rectangle in fractions of an image's upright (EXIF-oriented) width and height, so one description fits
/// every resolution the image might be decoded at.
/// </summary>
/// <param name="X">Left edge, 0..1.</param>
/// <param name="Y">Top edge, 0..1.</param>
/// <param name="Width">Width, (0, 1 - X].</param>
/// <param name="Height">Height, (0, 1 - Y].</param>
internal readonly record struct RelativeRect(float X, float Y, float Width, float Height)
{
    /// <summary>Throws unless the rectangle is non-empty and inside the unit square.</summary>
    public void Validate()
    {
        const float slack = 1e-6f;
        if (!(Width > 0 && Height > 0 && X >= 0 && Y >= 0 && X + Width <= 1 + slack && Y + Height <= 1 + slack))
            throw new ArgumentException($"Crop {this} must be non-empty and inside [0, 1]².");
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{X:R},{Y:R},{Width:R},{Height:R}");
}
