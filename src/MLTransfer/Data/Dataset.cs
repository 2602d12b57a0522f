namespace MLTransfer.Data;

/// <summary>Which part of a dataset an image belongs to.</summary>
public enum DatasetSplit
{
    /// <summary>Used to fit the classifier.</summary>
    Train,
    /// <summary>Used to pick hyper-parameters and to stop early.</summary>
    Validation,
    /// <summary>Held out; only used for the final report.</summary>
    Test,
}

/// <summary>How the images and their labels were laid out on disk.</summary>
internal enum DatasetLayout
{
    /// <summary>One sub-folder per class under the root.</summary>
    ClassFolders,
    /// <summary><c>train/</c>, <c>val/</c> (or <c>validation/</c>) and/or <c>test/</c> folders, each with one sub-folder per class.</summary>
    GivenSplit,
    /// <summary>A CSV or TSV file listing <c>path,label[,split]</c>.</summary>
    Manifest,
}

/// <summary>One image file and its class.</summary>
/// <param name="Path">Absolute path of the file.</param>
/// <param name="Label">Class name (the class folder's name, or the manifest's label).</param>
/// <param name="Split">The split the layout put the image in, or null when the layout gives none.</param>
internal sealed record LabeledImage(string Path, string Label, DatasetSplit? Split = null);

/// <summary>A file left out while discovering the dataset, and why.</summary>
/// <param name="Path">The file or folder concerned (for a bad manifest row: the path as written, or the manifest itself).</param>
/// <param name="Reason">Why it was left out, e.g. <c>empty file</c>.</param>
public sealed record SkippedFile(string Path, string Reason);

/// <summary>Knobs for <see cref="DatasetLoader.Load"/>; the defaults suit almost every dataset.</summary>
internal sealed record DatasetLoadOptions
{
    /// <summary>The image extensions ML.NET's loader can decode.</summary>
    public static IReadOnlyList<string> DefaultExtensions { get; } = [".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp"];

    /// <summary>File extensions (with the dot, any case) treated as images.</summary>
    public IReadOnlyList<string> Extensions { get; init; } = DefaultExtensions;

    /// <summary>
    /// Whether symbolic links to folders are followed. Each real folder is still entered at most once,
    /// so a link that points back up the tree cannot make discovery loop.
    /// </summary>
    public bool FollowSymlinks { get; init; } = true;
}

/// <summary>A labelled image dataset as found on disk, before any splitting or decoding.</summary>
internal sealed record Dataset
{
    /// <summary>Absolute path of the dataset folder (for a manifest: the manifest's folder).</summary>
    public required string Root { get; init; }

    /// <summary>Absolute path of the manifest file, or null for folder layouts.</summary>
    public string? ManifestPath { get; init; }

    /// <summary>How the dataset was laid out.</summary>
    public required DatasetLayout Layout { get; init; }

    /// <summary>Class names, sorted ordinally; the index in this list is the class id.</summary>
    public required IReadOnlyList<string> ClassNames { get; init; }

    /// <summary>The images, sorted by split, label and path so that the order never depends on the file system.</summary>
    public required IReadOnlyList<LabeledImage> Images { get; init; }

    /// <summary>Files (or folders) that looked relevant but were left out, with the reason.</summary>
    public IReadOnlyList<SkippedFile> Skipped { get; init; } = [];

    /// <summary>Things the user should know that did not stop the load (e.g. an empty class folder was dropped).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>Number of files ignored because their extension is not an image extension (e.g. a licence text).</summary>
    public int IgnoredFileCount { get; init; }

    /// <summary>True when every image already carries a split from the layout or the manifest.</summary>
    public bool HasGivenSplit => Images.Count > 0 && Images.All(i => i.Split is not null);

    /// <summary>
    /// True when the given split has a validation set but no test set, so the validation set is also
    /// the only held-out set: scores on it are not an unbiased estimate, and reports should say so.
    /// </summary>
    public bool ValidationDoublesAsTest =>
        HasGivenSplit
        && Images.Any(i => i.Split == DatasetSplit.Validation)
        && !Images.Any(i => i.Split == DatasetSplit.Test);
}
