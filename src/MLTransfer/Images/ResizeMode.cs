namespace MLTransfer.Images;

/// <summary>How an image is fitted into the backbone's fixed input size.</summary>
public enum ResizeMode
{
    /// <summary>Stretch the whole image to the target size (aspect ratio not kept).</summary>
    Fill,
    /// <summary>Scale so the image covers the target, then crop the centre (ML.NET IsoCrop).</summary>
    IsoCrop,
    /// <summary>Scale so the image fits inside the target, pad the rest with black (ML.NET IsoPad).</summary>
    IsoPad,
}
