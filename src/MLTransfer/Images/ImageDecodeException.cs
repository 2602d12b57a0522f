namespace MLTransfer.Images;

/// <summary>An image file that cannot be used: not an image, corrupt, truncated, too large or unreadable.</summary>
public sealed class ImageDecodeException : MLTransferException
{
    /// <summary>Creates the error for one image.</summary>
    public ImageDecodeException(string reason, string? source, Exception? inner = null)
        : base($"Cannot use image: {reason}", source,
            "Fix or remove the file; training skips such files and lists them in its report", inner)
    {
        Reason = reason;
    }

    /// <summary>Short reason, suitable for a "skipped files" table (e.g. "truncated image data").</summary>
    public string Reason { get; }
}
