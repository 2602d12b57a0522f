namespace MLTransfer.Export;

/// <summary>What the saved ML.NET chain of a model zip takes as its input column.</summary>
public enum ModelInputKind
{
    /// <summary>
    /// An <c>MLImage</c> already decoded and sized for the backbone by MLTransfer's decoder (zips from
    /// <c>train</c> and <c>finetune</c>; column <c>Image</c>).
    /// </summary>
    Image,
    /// <summary>A text column of image file paths, loaded by ML.NET's <c>LoadImages</c> (TransferImageClassification over paths).</summary>
    ImagePath,
    /// <summary>A column of encoded image bytes, decoded by <c>ImageBytesDecoding</c> (TransferImageClassification over <c>LoadRawImageBytes</c>).</summary>
    ImageBytes,
}
