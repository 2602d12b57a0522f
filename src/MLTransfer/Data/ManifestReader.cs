using System.Text;

namespace MLTransfer.Data;

/// <summary>
/// Reads a CSV/TSV manifest of <c>path,label[,split]</c> rows. A manifest may come from someone else, so every
/// path is confined to the manifest's folder: a row pointing outside it is refused without touching the file.
/// </summary>
internal static class ManifestReader
{
    private static readonly string[] PathHeaders = ["path", "file", "filename", "image", "filepath"];
    private static readonly string[] LabelHeaders = ["label", "class", "category"];

    public static Dataset Read(string manifest, DatasetLoadOptions options)
    {
        var walker = new FileWalker(options);
        if (walker.IsImageName(manifest))
            throw new MLTransferException("Expected a dataset folder or a CSV/TSV manifest, but got an image file", manifest,
                "Pass the folder that holds one sub-folder per class, or a manifest listing path,label rows");

        string text;
        try { text = File.ReadAllText(manifest); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new MLTransferException("Cannot read the manifest", manifest, "Check that the file exists and is readable", ex);
        }

        var delimiter = ChooseDelimiter(text, manifest, walker);
        var sep = delimiter == '\t' ? "<tab>" : delimiter.ToString();
        var rows = Parse(text, delimiter, manifest);
        if (rows.Count > 0 && IsHeader(rows[0].Fields)) rows.RemoveAt(0);
        if (rows.Count == 0)
            throw new MLTransferException("The manifest has no rows", manifest, "Add one 'path,label' row per image (an optional header row 'path,label' is allowed)");
        if (rows.All(r => r.Fields.Count < 2))
            throw new MLTransferException("No row of the manifest has two columns: expected path,label rows separated by commas, semicolons or tabs", manifest,
                "Write one row per image such as 'images/cat1.jpg,cats' (quote a path that contains the separator)");

        var root = Path.GetDirectoryName(manifest)!;
        var realRoot = PathUtil.RealPath(root);
        var withSplit = rows.Where(r => r.Fields.Count >= 3 && r.Fields[2].Length > 0).ToList();
        if (withSplit.Count > 0 && withSplit.Count < rows.Count)
        {
            var line = rows.First(r => r.Fields.Count < 3 || r.Fields[2].Length == 0).Line;
            throw new MLTransferException($"The split column is filled on some rows but not on line {line}", manifest,
                "Give every row a split (train, val or test), or remove the split column so the images are split automatically");
        }

        var images = new List<LabeledImage>();
        var seen = new Dictionary<string, (int Line, string Label)>(PathUtil.Comparer);
        var rowOf = new Dictionary<string, (int Line, string RawPath)>(PathUtil.Comparer);
        foreach (var (line, fields) in rows)
        {
            var rawPath = fields[0];
            // The path as written is shown, not resolved: it may not be a path at all, so it is made printable.
            void Skip(string reason) => walker.Skipped.Add(new SkippedFile(rawPath.Length > 0 ? Printable.Of(rawPath) : $"{manifest}:{line}", $"line {line}: {reason}"));

            if (fields.Count < 2 || rawPath.Length == 0 || fields[1].Length == 0) { Skip($"expected 'path{sep}label'"); continue; }
            if (fields.Count > 3) { Skip($"{fields.Count} columns, expected path{sep}label[{sep}split] (quote paths that contain '{sep}')"); continue; }
            var label = fields[1];
            if (string.IsNullOrWhiteSpace(label)) { Skip("the label is blank"); continue; }
            // A tab, line break or NUL in a label is a quoting mistake or damage, and would break every line the
            // class name is printed on.
            if (Printable.NeedsEscape(label)) { Skip($"the label '{Printable.Of(label, 60)}' contains control characters (tab, line break, NUL...)"); continue; }
            DatasetSplit? split = null;
            if (fields.Count == 3 && fields[2].Length > 0)
            {
                split = ParseSplit(fields[2]);
                if (split is null) { Skip($"unknown split '{Printable.Of(fields[2], 60)}' (use train, val or test)"); continue; }
            }

            // Manifests written on Windows use backslashes; on Unix they would otherwise become part of a file name.
            var relative = OperatingSystem.IsWindows() ? rawPath : rawPath.Replace('\\', '/');
            string full;
            try { full = Path.GetFullPath(Path.Combine(root, relative)); }
            catch (Exception ex) when (ex is ArgumentException or NotSupportedException or PathTooLongException)
            {
                Skip($"invalid path ({Printable.Of(ex.Message, 200)})");
                continue;
            }
            // Lexical check first, so that a hostile path is refused before anything on it is even looked up.
            if (!PathUtil.IsWithin(full, root)) { Skip("refused: the path points outside the manifest's folder"); continue; }
            string real;
            try { real = PathUtil.RealPath(full); }
            catch (IOException) { Skip("symbolic link loop"); continue; }
            if (!PathUtil.IsWithin(real, realRoot)) { Skip("refused: a symbolic link leads outside the manifest's folder"); continue; }

            if (seen.TryGetValue(full, out var first))
            {
                Skip($"listed again (first on line {first.Line}" + (first.Label == label ? ")" : $" with label '{first.Label}')"));
                continue;
            }
            seen[full] = (line, label);
            if (Directory.Exists(full)) { Skip("is a folder, not an image file"); continue; }
            if (!File.Exists(full) && new FileInfo(full).LinkTarget is null) { Skip("file not found"); continue; }
            if (walker.CheckFile(new FileInfo(full), reportNonImage: true) is null) continue;
            images.Add(new LabeledImage(full, label, split));
            rowOf[full] = (line, rawPath);
        }

        var warnings = new List<string>();
        if (withSplit.Count > 0)
        {
            // A label with no training row cannot be learnt, and scoring it would only ever count as an
            // error: like a class folder missing from train/, its rows leave the dataset with a reason.
            var trained = images.Where(i => i.Split == DatasetSplit.Train).Select(i => i.Label).ToHashSet(StringComparer.Ordinal);
            foreach (var orphan in images.Where(i => !trained.Contains(i.Label)).GroupBy(i => i.Label, StringComparer.Ordinal).OrderBy(g => g.Key, StringComparer.Ordinal))
            {
                foreach (var image in orphan)
                {
                    var (line, rawPath) = rowOf[image.Path];
                    walker.Skipped.Add(new SkippedFile(rawPath, $"line {line}: label '{image.Label}' has no training rows, so it cannot be learnt"));
                }
                warnings.Add($"Label '{orphan.Key}' appears only outside the train split ({orphan.Count()} row(s)) and was left out; add training rows for it to learn it.");
            }
            images.RemoveAll(i => !trained.Contains(i.Label));
        }
        var classes = images.Select(i => i.Label).Distinct(StringComparer.Ordinal).ToList();
        return DatasetLoader.Finish(root, manifest, DatasetLayout.Manifest, classes, images, walker, warnings);
    }

    /// <summary>Candidate column delimiters, in order of preference when they fit equally well.</summary>
    private static readonly char[] Delimiters = ['\t', ',', ';'];

    /// <summary>
    /// The delimiter that makes the first rows look most like a manifest: for each candidate, a row scores 2
    /// when it splits into a header or into 2–3 columns whose first is an image file name, 1 when it merely
    /// splits into 2–3 columns. Looking at the path rather than only counting columns matters because a
    /// path may legally hold another candidate: <c>a;b.jpg,cats</c> splits into two columns at either
    /// delimiter, but only the comma leaves an image path. Spreadsheets in many locales save "CSV" with
    /// semicolons, so the extension only decides for <c>.tsv</c>.
    /// </summary>
    private static char ChooseDelimiter(string text, string manifest, FileWalker walker)
    {
        if (Path.GetExtension(manifest).Equals(".tsv", StringComparison.OrdinalIgnoreCase))
            return '\t';
        var sample = text[..SampleLength(text, lines: 50, maxChars: 1 << 16)];
        var (best, bestScore) = (',', -1);
        foreach (var candidate in Delimiters)
        {
            var score = 0;
            foreach (var (_, fields) in Parse(sample, candidate, manifest, sample: true))
                if (fields.Count is 2 or 3 && fields[0].Length > 0 && fields[1].Length > 0)
                    score += IsHeader(fields) || walker.IsImageName(fields[0]) ? 2 : 1;
            if (score > bestScore)
                (best, bestScore) = (candidate, score);
        }
        return best;
    }

    /// <summary>Length of the text's first <paramref name="lines"/> lines, at most <paramref name="maxChars"/>.</summary>
    private static int SampleLength(string text, int lines, int maxChars)
    {
        var end = 0;
        for (var i = 0; i < lines && end < text.Length; i++)
        {
            var newline = text.IndexOf('\n', end);
            if (newline < 0)
                return Math.Min(text.Length, maxChars);
            end = newline + 1;
        }
        return Math.Min(end, maxChars);
    }

    private static DatasetSplit? ParseSplit(string value) => value.ToLowerInvariant() switch
    {
        "train" or "training" => DatasetSplit.Train,
        "val" or "valid" or "validation" or "dev" => DatasetSplit.Validation,
        "test" or "testing" => DatasetSplit.Test,
        _ => null,
    };

    private static bool IsHeader(List<string> fields) =>
        fields.Count >= 2
        && PathHeaders.Contains(fields[0].ToLowerInvariant())
        && LabelHeaders.Contains(fields[1].ToLowerInvariant());

    /// <summary>
    /// Splits CSV/TSV text into rows (RFC 4180 quoting: a quoted field may hold the delimiter, a newline or a
    /// doubled quote). Unquoted fields are trimmed; blank lines are dropped. Line numbers are 1-based, for messages.
    /// </summary>
    /// <param name="text">The manifest's text.</param>
    /// <param name="delimiter">The column delimiter.</param>
    /// <param name="where">The manifest, for messages.</param>
    /// <param name="sample">
    /// True when <paramref name="text"/> is only the start of the manifest: a quote still open at its end was
    /// cut off there, not left unclosed, so the field ends instead of failing.
    /// </param>
    internal static List<(int Line, List<string> Fields)> Parse(string text, char delimiter, string where, bool sample = false)
    {
        var rows = new List<(int, List<string>)>();
        var fields = new List<string>();
        var field = new StringBuilder();
        var line = 1;
        var rowLine = 1;
        var quoteLine = 0;
        var inQuotes = false;
        var wasQuoted = false;
        // Tracked rather than recomputed from the field at each quote, which made a long run of quotes quadratic.
        var blank = true;

        void EndField()
        {
            fields.Add(wasQuoted ? field.ToString() : field.ToString().Trim());
            field.Clear();
            wasQuoted = false;
            blank = true;
        }
        void EndRow()
        {
            EndField();
            if (fields.Count > 1 || fields[0].Length > 0) rows.Add((rowLine, fields));
            fields = [];
        }

        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (inQuotes)
            {
                if (c == '"')
                {
                    if (i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i++; }
                    else inQuotes = false;
                }
                else
                {
                    if (c == '\n') line++;
                    field.Append(c);
                }
                continue;
            }
            switch (c)
            {
                case '"' when !wasQuoted && blank:
                    field.Clear();
                    inQuotes = wasQuoted = true;
                    quoteLine = line;
                    break;
                case '\r':
                    break;
                case '\n':
                    EndRow();
                    rowLine = ++line;
                    break;
                default:
                    if (c == delimiter) EndField();
                    // Text after a closing quote (other than spaces) is kept rather than lost.
                    else if (!wasQuoted || !char.IsWhiteSpace(c))
                    {
                        field.Append(c);
                        blank &= char.IsWhiteSpace(c);
                    }
                    break;
            }
        }
        if (inQuotes && !sample)
            throw new MLTransferException($"The manifest has a quote opened on line {quoteLine} that is never closed", where,
                "Close the quote, or double any quote character that is part of a path (\"\")");
        EndRow();
        return rows;
    }
}
