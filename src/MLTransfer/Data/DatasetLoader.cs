namespace MLTransfer.Data;

/// <summary>
/// Discovers a labelled image dataset on disk. Files are found and checked for size and readability only;
/// decoding happens later, so a corrupt image is not caught here.
/// </summary>
internal static class DatasetLoader
{
    private static readonly string[] ValidationNames = ["val", "validation"];

    /// <summary>
    /// Loads a dataset from a folder or a manifest file.
    /// </summary>
    /// <param name="path">
    /// A folder with one sub-folder per class; a folder with <c>train/</c> and <c>val/</c> (or <c>validation/</c>,
    /// and/or <c>test/</c>) folders that each hold one sub-folder per class; or a CSV/TSV manifest of
    /// <c>path,label[,split]</c> rows with paths relative to the manifest's folder.
    /// </param>
    /// <param name="options">Extensions and link handling; null for the defaults.</param>
    /// <returns>The images found, with what was skipped and why.</returns>
    /// <exception cref="MLTransferException">The path is missing, holds no images, or has fewer than two classes.</exception>
    public static Dataset Load(string path, DatasetLoadOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        options ??= new DatasetLoadOptions();
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        if (File.Exists(full))
            return ManifestReader.Read(full, options);
        if (!Directory.Exists(full))
            throw new MLTransferException("Dataset folder not found", full,
                "Check the path: it should be a folder with one sub-folder per class, or a CSV/TSV manifest file");

        var walker = new FileWalker(options);
        walker.Reserve(full);
        var entries = walker.ReadEntries(full)
            ?? throw new MLTransferException("Cannot read the dataset folder", full, "Check that you have permission to read it");
        if (entries.Length == 0)
            throw new MLTransferException("Dataset folder is empty", full,
                "Put one sub-folder per class in it (e.g. cats/, dogs/), each holding that class's images");

        var dirs = entries.OfType<DirectoryInfo>().ToList();
        var splitDirs = dirs.Where(d => SplitOfFolder(d.Name) is not null).ToList();
        var hasTrain = splitDirs.Any(d => SplitOfFolder(d.Name) == DatasetSplit.Train);
        return hasTrain && splitDirs.Count >= 2
            ? LoadGivenSplit(full, entries, splitDirs, walker)
            : LoadClassFolders(full, entries, walker);
    }

    private static DatasetSplit? SplitOfFolder(string name) => name.ToLowerInvariant() switch
    {
        "train" => DatasetSplit.Train,
        "val" or "validation" => DatasetSplit.Validation,
        "test" => DatasetSplit.Test,
        _ => null,
    };

    private static Dataset LoadClassFolders(string root, FileSystemInfo[] entries, FileWalker walker)
    {
        var warnings = new List<string>();
        var classDirs = entries.OfType<DirectoryInfo>().ToList();
        var looseImages = entries.OfType<FileInfo>().Count(f => walker.IsImageName(f.Name));
        if (classDirs.Count == 0 && looseImages > 0)
            throw new MLTransferException($"The {looseImages} images are directly in the dataset folder, so they have no class", root,
                "Move them into one sub-folder per class (e.g. cats/, dogs/); the folder name is the class name");
        if (looseImages > 0)
            warnings.Add($"{looseImages} image(s) directly in {root} were ignored: they are not in a class folder.");
        IgnoreCount(walker, entries.OfType<FileInfo>().Count(f => !walker.IsImageName(f.Name)));

        var usable = ReserveAll(classDirs, walker, warnings);
        var images = new List<LabeledImage>();
        var classes = new List<string>();
        foreach (var dir in usable)
        {
            var found = walker.CollectImages(dir.FullName);
            if (found.Count == 0)
            {
                warnings.Add($"Class folder '{dir.Name}' has no images and was skipped.");
                continue;
            }
            classes.Add(dir.Name);
            images.AddRange(found.Select(p => new LabeledImage(p, dir.Name)));
        }
        return Finish(root, null, DatasetLayout.ClassFolders, classes, images, walker, warnings);
    }

    private static Dataset LoadGivenSplit(string root, FileSystemInfo[] entries, List<DirectoryInfo> splitDirs, FileWalker walker)
    {
        var warnings = new List<string>();
        if (splitDirs.Count(d => ValidationNames.Contains(d.Name.ToLowerInvariant())) > 1)
            throw new MLTransferException("Both a val/ and a validation/ folder exist, so the validation set is ambiguous", root,
                "Merge them into one folder, or rename the one that should not be used");
        if (splitDirs.GroupBy(d => SplitOfFolder(d.Name)).Any(g => g.Count() > 1))
            throw new MLTransferException("Two split folders differ only by case (e.g. train/ and Train/)", root, "Keep one of them");

        foreach (var other in entries.OfType<DirectoryInfo>().Except(splitDirs))
            warnings.Add($"Folder '{other.Name}' in {root} is not train/, val/, validation/ or test/ and was ignored.");
        var looseImages = entries.OfType<FileInfo>().Count(f => walker.IsImageName(f.Name));
        if (looseImages > 0)
            warnings.Add($"{looseImages} image(s) directly in {root} were ignored: they are not in a split/class folder.");
        IgnoreCount(walker, entries.OfType<FileInfo>().Count(f => !walker.IsImageName(f.Name)));

        // Train first so that it is the reference the other splits are compared with.
        var ordered = splitDirs.OrderBy(d => SplitOfFolder(d.Name)).ToList();
        var classDirsBySplit = new List<(DatasetSplit Split, DirectoryInfo Folder, List<DirectoryInfo> Classes)>();
        foreach (var splitDir in ordered)
        {
            var inner = walker.ReadEntries(splitDir.FullName)
                ?? throw new MLTransferException("Cannot read a split folder", splitDir.FullName, "Check that you have permission to read it");
            var classDirs = inner.OfType<DirectoryInfo>().ToList();
            var loose = inner.OfType<FileInfo>().Count(f => walker.IsImageName(f.Name));
            if (classDirs.Count == 0)
                throw new MLTransferException(
                    loose > 0 ? "A split folder holds images directly instead of class sub-folders" : "A split folder has no class sub-folders",
                    splitDir.FullName, "Inside each of train/, val/ and test/ put one sub-folder per class, with the same class names in each");
            if (loose > 0)
                warnings.Add($"{loose} image(s) directly in {splitDir.FullName} were ignored: they are not in a class folder.");
            IgnoreCount(walker, inner.OfType<FileInfo>().Count(f => !walker.IsImageName(f.Name)));
            classDirsBySplit.Add((SplitOfFolder(splitDir.Name)!.Value, splitDir, classDirs));
        }

        var reference = classDirsBySplit[0];
        var referenceNames = reference.Classes.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var (_, folder, classDirs) in classDirsBySplit.Skip(1))
        {
            var names = classDirs.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
            var extra = names.Except(referenceNames).Order(StringComparer.Ordinal).ToList();
            var missing = referenceNames.Except(names).Order(StringComparer.Ordinal).ToList();
            if (extra.Count == 0 && missing.Count == 0) continue;
            var parts = new List<string>();
            if (extra.Count > 0) parts.Add($"has {Quote(extra)} which {reference.Folder.Name}/ lacks");
            if (missing.Count > 0) parts.Add($"lacks {Quote(missing)} which {reference.Folder.Name}/ has");
            throw new MLTransferException($"Class folders differ between splits: {folder.Name}/ {string.Join(" and ", parts)}",
                folder.FullName, "Every split folder must hold the same class sub-folders; add the missing ones or remove the extra ones");
        }

        // Reserve every class folder of every split before walking any of them (see FileWalker.Reserve).
        var usable = classDirsBySplit
            .Select(s => (s.Split, s.Folder, Classes: ReserveAll(s.Classes, walker, warnings)))
            .ToList();
        var images = new List<LabeledImage>();
        var counts = new Dictionary<(string, DatasetSplit), int>();
        foreach (var (split, _, classDirs) in usable)
            foreach (var dir in classDirs)
            {
                var found = walker.CollectImages(dir.FullName);
                counts[(dir.Name, split)] = found.Count;
                images.AddRange(found.Select(p => new LabeledImage(p, dir.Name, split)));
            }

        var classes = new List<string>();
        foreach (var name in referenceNames.Order(StringComparer.Ordinal))
        {
            // A class with nothing to learn from would only ever be mispredicted, so it is dropped rather than kept.
            if (counts.GetValueOrDefault((name, DatasetSplit.Train)) == 0)
            {
                var dropped = images.RemoveAll(i => i.Label == name);
                warnings.Add($"Class '{name}' has no images in {reference.Folder.Name}/ and was skipped" +
                             (dropped > 0 ? $" ({dropped} image(s) in other splits left out)." : "."));
                continue;
            }
            classes.Add(name);
            foreach (var (split, folder, _) in usable.Skip(1))
                if (counts.GetValueOrDefault((name, split)) == 0)
                    warnings.Add($"Class '{name}' has no images in {folder.Name}/.");
        }
        return Finish(root, null, DatasetLayout.GivenSplit, classes, images, walker, warnings);
    }

    /// <summary>Reserves the class folders, dropping any that is the same real folder as an earlier one.</summary>
    private static List<DirectoryInfo> ReserveAll(List<DirectoryInfo> classDirs, FileWalker walker, List<string> warnings)
    {
        var usable = new List<DirectoryInfo>();
        foreach (var dir in classDirs)
        {
            if (walker.Reserve(dir.FullName) is { } owner)
                warnings.Add($"Class folder '{dir.Name}' is the same folder as {owner} (a symbolic link) and was skipped.");
            else
                usable.Add(dir);
        }
        return usable;
    }

    // Loose non-image files next to the class folders (README, licence) are ignored like those inside them.
    private static void IgnoreCount(FileWalker walker, int count) => walker.CountIgnored(count);

    /// <summary>Checks the result is trainable and puts it in a file-system-independent order.</summary>
    internal static Dataset Finish(string root, string? manifest, DatasetLayout layout, List<string> classes,
        List<LabeledImage> images, FileWalker walker, List<string> warnings)
    {
        var where = manifest ?? root;
        if (images.Count == 0)
        {
            var detail = new List<string>();
            if (walker.IgnoredCount > 0) detail.Add($"{walker.IgnoredCount} file(s) with other extensions were ignored");
            if (walker.Skipped.Count > 0) detail.Add($"{walker.Skipped.Count} file(s) were skipped (first: {Printable.Of(walker.Skipped[0].Path, 200)}: {Printable.Of(walker.Skipped[0].Reason, 200)})");
            throw new MLTransferException("No images found" + (detail.Count > 0 ? $"; {string.Join("; ", detail)}" : ""), where,
                $"Images must have one of the extensions {string.Join(' ', walker.Extensions.Order(StringComparer.Ordinal))}" +
                (manifest is null ? " and sit in one sub-folder per class" : ""));
        }
        classes.Sort(StringComparer.Ordinal);
        if (classes.Count < 2)
        {
            var hint = SplitOfFolder(classes[0]) is not null && layout == DatasetLayout.ClassFolders
                ? $"; if '{classes[0]}/' holds the class folders, add the matching val/ or test/ folder next to it, or point at '{classes[0]}/' itself"
                : "";
            throw new MLTransferException($"Only one class found: '{Printable.Of(classes[0], 100)}'; a classifier needs at least two", where,
                (manifest is null ? "Add a sub-folder with images for each other class" : "Add rows with images of at least one other label") + hint);
        }

        WarnIfNamesCollide(classes, warnings, manifest is not null);
        WarnIfImbalanced(images, warnings);

        images.Sort((a, b) =>
        {
            var c = Nullable.Compare(a.Split, b.Split);
            if (c == 0) c = string.CompareOrdinal(a.Label, b.Label);
            return c != 0 ? c : string.CompareOrdinal(a.Path, b.Path);
        });
        return new Dataset
        {
            Root = root,
            ManifestPath = manifest,
            Layout = layout,
            ClassNames = classes,
            Images = images,
            Skipped = walker.Skipped.ToList(),
            Warnings = warnings,
            IgnoredFileCount = walker.IgnoredCount,
        };
    }

    /// <summary>
    /// Class names that differ only in letter case (or in Unicode composition) are almost always one class
    /// spelled two ways, yet they are trained as separate classes that compete for the same images.
    /// </summary>
    private static void WarnIfNamesCollide(List<string> classes, List<string> warnings, bool manifest)
    {
        foreach (var group in classes.GroupBy(FoldedName, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            var names = group.Order(StringComparer.Ordinal).Select(n => $"'{n}'").ToList();
            var list = string.Join(", ", names.SkipLast(1)) + " and " + names[^1];
            var how = group.All(n => n.Equals(group.First(), StringComparison.OrdinalIgnoreCase))
                ? "differ only in letter case"
                : "differ only in letter case or in how accented letters are encoded (Unicode normalisation)";
            warnings.Add($"Classes {list} {how}, so they are trained as {names.Count} separate classes; " +
                         (manifest ? "if they are one class, spell its label the same way on every row." : "if they are one class, merge the folders."));
        }

        static string FoldedName(string name)
        {
            try
            {
                return name.Normalize(System.Text.NormalizationForm.FormC).ToUpperInvariant();
            }
            catch (ArgumentException)
            {
                // Not valid Unicode (a lone surrogate): compared as written.
                return name.ToUpperInvariant();
            }
        }
    }

    /// <summary>
    /// Largest-to-smallest class size ratio above which <see cref="Load"/> warns: beyond it a classifier
    /// tends to ignore the small class, and accuracy alone hides that (look at per-class recall).
    /// </summary>
    public const double ImbalanceWarningRatio = 10;

    private static void WarnIfImbalanced(List<LabeledImage> images, List<string> warnings)
    {
        // Counted over the images a model learns from: the train split when one is given, else everything.
        var pool = images.Any(i => i.Split == DatasetSplit.Train) ? images.Where(i => i.Split == DatasetSplit.Train) : images;
        var counts = pool.GroupBy(i => i.Label, StringComparer.Ordinal)
            .Select(g => (Label: g.Key, Count: g.Count()))
            .OrderByDescending(c => c.Count).ThenBy(c => c.Label, StringComparer.Ordinal)
            .ToList();
        if (counts.Count < 2) return;
        var (big, small) = (counts[0], counts[^1]);
        var ratio = (double)big.Count / small.Count;
        if (ratio <= ImbalanceWarningRatio) return;
        warnings.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"Classes are very imbalanced: '{big.Label}' has {big.Count} images but '{small.Label}' has {small.Count} ({Math.Floor(ratio):0}:1). The model will tend to ignore the small class; add images to it, or check its per-class recall rather than accuracy."));
    }

    private static string Quote(IEnumerable<string> names) => string.Join(", ", names.Select(n => $"'{n}'"));
}
