using System.Buffers;
using System.Buffers.Binary;
using Parquet;
using Parquet.Schema;

namespace MLTransfer.FeatureStore;

/// <summary>One image's row in a shard: what Spark, DuckDB or pandas see as a table row.</summary>
/// <param name="Path">Path relative to the dataset root, '/'-separated.</param>
/// <param name="Sha256">Lower-case hex SHA-256 of the image file.</param>
/// <param name="Label">Its class.</param>
/// <param name="Split">The split the dataset gave it (train, validation, test), or null when the split is computed at training.</param>
/// <param name="Features">The feature vector.</param>
internal sealed record ShardRow(string Path, string Sha256, string Label, string? Split, float[] Features);

/// <summary>A row without its features: what training needs to rebuild the split before any vector is read.</summary>
internal sealed record ShardKey(string Path, string Sha256, string Label, string? Split);

/// <summary>The Parquet layout of a shard: path, sha256, label, split, features (a list of floats).</summary>
internal static class ShardSchema
{
    public static readonly DataField<string> Path = new("path", false);
    public static readonly DataField<string> Sha256 = new("sha256", false);
    public static readonly DataField<string> Label = new("label", false);
    public static readonly DataField<string> Split = new("split", true);
    public static readonly DataField<float> Element = new("element", false);
    public static readonly ListField Features = new("features", Element);
    public static readonly ParquetSchema Schema = new(Path, Sha256, Label, Split, Features);

    /// <summary>Rows per row group: a group is the unit a reader decodes, so this bounds a reader's memory (about 20 MB at 1280 floats).</summary>
    public const int RowGroupRows = 4096;

    /// <summary>Longest footer accepted from a file: far above a real one (the skipped list is the only large part).</summary>
    public const int MaxFooterBytes = 64 << 20;
}

/// <summary>Writes a shard file: row groups as they come, the facts in the footer at the end.</summary>
internal sealed class ShardWriter : IDisposable
{
    private readonly FileStream _stream;
    private readonly ParquetWriter _writer;
    private readonly int _width;
    private bool _done;

    public ShardWriter(string path, int featureWidth)
    {
        _width = featureWidth;
        _stream = new FileStream(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None);
        try
        {
            // Snappy: a third of MobileNetV2's pooled ReLU6 features are exact zeros, so it stores a fifth less
            // than no compression and reads no slower; Zstd stores a third less but writes ten times slower
            // (docs/design-notes.md).
            _writer = ParquetWriter.CreateAsync(ShardSchema.Schema, _stream, new ParquetOptions { CompressionMethod = CompressionMethod.Snappy })
                .GetAwaiter().GetResult();
        }
        catch
        {
            _stream.Dispose();
            throw;
        }
    }

    public long Rows { get; private set; }

    /// <summary>Writes one row group.</summary>
    public void Write(IReadOnlyList<ShardRow> rows)
    {
        if (rows.Count == 0)
            return;
        var values = new float[rows.Count * _width];
        var repetition = new int[values.Length];
        for (var r = 0; r < rows.Count; r++)
        {
            if (rows[r].Features.Length != _width)
                throw new ArgumentException($"Row {rows[r].Path} has {rows[r].Features.Length} features, expected {_width}.");
            rows[r].Features.CopyTo(values, r * _width);
            // A new list starts at level 0; the rest of its elements repeat at level 1.
            repetition.AsSpan(r * _width + 1, _width - 1).Fill(1);
        }
        using var group = _writer.CreateRowGroup();
        group.WriteAsync(ShardSchema.Path, rows.Select(r => r.Path).ToList(), null).GetAwaiter().GetResult();
        group.WriteAsync(ShardSchema.Sha256, rows.Select(r => r.Sha256).ToList(), null).GetAwaiter().GetResult();
        group.WriteAsync(ShardSchema.Label, rows.Select(r => r.Label).ToList(), null).GetAwaiter().GetResult();
        group.WriteAsync(ShardSchema.Split, rows.Select(r => r.Split).ToList(), null).GetAwaiter().GetResult();
        var definition = new int[values.Length];
        definition.AsSpan().Fill(ShardSchema.Element.MaxDefinitionLevel);
        group.WriteAllPartsAsync<float>(ShardSchema.Element, values, definition, repetition, CancellationToken.None).GetAwaiter().GetResult();
        group.CompleteValidate();
        Rows += rows.Count;
    }

    /// <summary>Writes the footer with <paramref name="facts"/> and flushes the file to disk.</summary>
    public void Complete(ShardFacts facts)
    {
        _writer.CustomMetadata = facts.ToMetadata();
        _writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _done = true;
        _stream.Flush(true);
        _stream.Dispose();
    }

    public void Dispose()
    {
        if (!_done)
        {
            try { _writer.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
            catch (Exception e) when (e is IOException or InvalidOperationException) { }
        }
        _stream.Dispose();
    }
}

/// <summary>Reads a shard file, treating it as untrusted: the footer's size, the schema and the facts are checked before any row is read.</summary>
internal sealed class ShardReader : IDisposable
{
    private readonly FileStream _stream;
    private readonly ParquetReader _reader;

    private ShardReader(string path, FileStream stream, ParquetReader reader, ShardFacts facts)
    {
        FilePath = path;
        _stream = stream;
        _reader = reader;
        Facts = facts;
    }

    public string FilePath { get; }
    public ShardFacts Facts { get; }
    public int RowGroupCount => _reader.RowGroupCount;

    /// <exception cref="MLTransferException">The file is missing, truncated, not Parquet, or not a feature shard of this format.</exception>
    public static ShardReader Open(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        FileStream stream;
        try
        {
            stream = new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MLTransferException($"Cannot read the feature shard: {e.Message}", full, "Check that the file exists and is readable", e);
        }
        try
        {
            CheckEnvelope(stream, full);
            ParquetReader reader;
            try
            {
                reader = ParquetReader.CreateAsync(stream, leaveStreamOpen: true).GetAwaiter().GetResult();
            }
            catch (Exception e) when (e is not MLTransferException and not OutOfMemoryException)
            {
                throw Damaged(full, $"its Parquet footer cannot be read ({e.GetType().Name}: {e.Message.Split('\n')[0]})", e);
            }
            try
            {
                var facts = ShardFacts.FromMetadata(reader.CustomMetadata, full);
                CheckSchema(reader, full);
                var rows = reader.RowGroups.Sum(g => g.RowCount);
                if (rows != facts.Rows)
                    throw Damaged(full, $"its footer says {facts.Rows} rows but its row groups hold {rows}", null);
                return new ShardReader(full, stream, reader, facts);
            }
            catch
            {
                reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
                throw;
            }
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Checks the Parquet envelope (magic at both ends, a footer that fits the file) without trusting its length field.</summary>
    private static void CheckEnvelope(FileStream stream, string path)
    {
        if (stream.Length < 12)
            throw Damaged(path, $"it is only {stream.Length} bytes", null);
        Span<byte> head = stackalloc byte[4];
        Span<byte> tail = stackalloc byte[8];
        stream.Position = 0;
        stream.ReadExactly(head);
        stream.Position = stream.Length - 8;
        stream.ReadExactly(tail);
        stream.Position = 0;
        if (!head.SequenceEqual("PAR1"u8))
            throw Damaged(path, "it does not start with the Parquet signature", null);
        if (!tail[4..].SequenceEqual("PAR1"u8))
            throw Damaged(path, "it does not end with the Parquet signature (truncated, or still being written)", null);
        var footer = BinaryPrimitives.ReadInt32LittleEndian(tail);
        if (footer <= 0 || footer > ShardSchema.MaxFooterBytes || footer > stream.Length - 12)
            throw Damaged(path, $"its footer length ({footer} bytes) does not fit the file", null);
    }

    private static void CheckSchema(ParquetReader reader, string path)
    {
        var fields = reader.Schema.GetDataFields();
        string[] expected = ["path", "sha256", "label", "split", "features/list/element"];
        var actual = fields.Select(f => f.Path.ToString()).ToArray();
        if (fields.Length != expected.Length || fields[4].ClrType != typeof(float) || !fields[..4].All(f => f.SchemaType == SchemaType.Data && f.Path.Length == 1)
            || !actual.Select(a => a.Replace('.', '/')).SequenceEqual(expected))
            throw new MLTransferException($"Not a usable MLTransfer feature shard: its columns are {string.Join(", ", fields.Select(f => $"{f.Path} ({f.ClrType.Name})"))}", path,
                "Extract this shard again (mltransfer extract), or remove the file if it does not belong in this folder");
    }

    private static MLTransferException Damaged(string path, string why, Exception? inner) =>
        new($"The feature shard is damaged or incomplete: {why}", path, "Extract this shard again (ShardExtractionOptions.Shard, CLI: mltransfer extract --shard I/N, re-does only it)", inner);

    private Parquet.Schema.DataField Field(string path) => _reader.Schema.GetDataFields().First(f => f.Path.ToString().Replace('.', '/') == path);

    /// <summary>The rows of a row group without their features.</summary>
    public IReadOnlyList<ShardKey> ReadKeys(int rowGroup)
    {
        try
        {
            using var group = _reader.OpenRowGroupReader(rowGroup);
            var n = checked((int)group.RowCount);
            var paths = ReadStrings(group, "path", n);
            var hashes = ReadStrings(group, "sha256", n);
            // Labels and splits repeat on every row: one string each keeps a million-row index small.
            var labels = ReadStrings(group, "label", n).Select(Intern).ToArray();
            var splits = ReadStrings(group, "split", n).Select(Intern).ToArray();
            var keys = new ShardKey[n];
            for (var i = 0; i < n; i++)
            {
                if (paths[i] is not { Length: > 0 } p || hashes[i] is not { Length: 64 } h || labels[i] is not { Length: > 0 } l)
                    throw Damaged(FilePath, $"row {i} of row group {rowGroup} has an empty path, label or SHA-256", null);
                keys[i] = new ShardKey(p, h, l, splits[i]);
            }
            return keys;
        }
        catch (Exception e) when (e is not MLTransferException and not OutOfMemoryException)
        {
            throw Damaged(FilePath, $"row group {rowGroup} cannot be read ({e.GetType().Name}: {e.Message.Split('\n')[0]})", e);
        }
    }

    private readonly Dictionary<string, string> _interned = new(StringComparer.Ordinal);

    private string? Intern(string? value)
    {
        if (value is null)
            return null;
        if (_interned.TryGetValue(value, out var known))
            return known;
        if (_interned.Count < 100_000)
            _interned[value] = value;
        return value;
    }

    private string?[] ReadStrings(ParquetRowGroupReader group, string column, int n)
    {
        var values = new string?[n];
        group.ReadAsync(Field(column), values.AsMemory(), null).GetAwaiter().GetResult();
        return values;
    }

    /// <summary>
    /// The features of a row group into <paramref name="buffers"/>, which a caller reading group after group
    /// reuses: a group's arrays (60 MB at 4096 rows of 1280) go to the large-object heap, which only a full
    /// collection frees, so fresh ones per group grew a streaming pass by hundreds of megabytes.
    /// </summary>
    public ReadOnlyMemory<float> ReadFeatures(int rowGroup, FeatureBuffers buffers)
    {
        var width = Facts.Signature.FeatureWidth;
        try
        {
            using var group = _reader.OpenRowGroupReader(rowGroup);
            var n = checked((int)group.RowCount);
            var field = Field("features/list/element");
            var stated = group.GetMetadata(field)?.MetaData?.NumValues;
            var expected = (long)n * width;
            if (stated != expected)
                throw Damaged(FilePath, $"row group {rowGroup} holds {stated} feature values for {n} rows of width {width}", null);
            var (values, definition, repetition) = buffers.Take(checked((int)expected));
            group.ReadRawAsync<float>(field, values, definition, repetition).GetAwaiter().GetResult();
            if (definition.Span.ContainsAnyExcept(field.MaxDefinitionLevel))
                throw Damaged(FilePath, $"row group {rowGroup} has missing feature values", null);
            for (var r = 0; r < n; r++)
            {
                var row = repetition.Span.Slice(r * width, width);
                if (row[0] != 0 || row[1..].ContainsAnyExcept(1))
                    throw Damaged(FilePath, $"row {r} of row group {rowGroup} does not hold exactly {width} features", null);
            }
            return values;
        }
        catch (Exception e) when (e is not MLTransferException and not OutOfMemoryException)
        {
            throw Damaged(FilePath, $"the features of row group {rowGroup} cannot be read ({e.GetType().Name}: {e.Message.Split('\n')[0]})", e);
        }
    }

    public void Dispose()
    {
        _reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _stream.Dispose();
    }
}

/// <summary>Pooled arrays for reading row groups one after another.</summary>
internal sealed class FeatureBuffers : IDisposable
{
    private float[] _values = [];
    private int[] _definition = [];
    private int[] _repetition = [];

    public (Memory<float> Values, Memory<int> Definition, Memory<int> Repetition) Take(int length)
    {
        if (_values.Length < length)
        {
            Dispose();
            (_values, _definition, _repetition) = (ArrayPool<float>.Shared.Rent(length), ArrayPool<int>.Shared.Rent(length), ArrayPool<int>.Shared.Rent(length));
        }
        return (_values.AsMemory(0, length), _definition.AsMemory(0, length), _repetition.AsMemory(0, length));
    }

    public void Dispose()
    {
        if (_values.Length > 0)
        {
            ArrayPool<float>.Shared.Return(_values);
            ArrayPool<int>.Shared.Return(_definition);
            ArrayPool<int>.Shared.Return(_repetition);
        }
        (_values, _definition, _repetition) = ([], [], []);
    }
}
