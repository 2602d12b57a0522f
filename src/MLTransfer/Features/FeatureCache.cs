using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace MLTransfer.Features;

/// <summary>
/// On-disk bottleneck cache: backbone features keyed by the SHA-256 of an image file's content, for one
/// backbone and one preprocessing. A retrain with another head or seed reads features from here and never
/// runs the backbone; added images are the only ones extracted.
/// </summary>
/// <remarks>
/// The file is append-only and every record carries its own checksum, so a process killed mid-write
/// (kill -9, power loss) leaves at worst one torn record at the end; opening the cache drops it and
/// keeps everything before it. Only one process may write a cache at a time (the file is opened for
/// exclusive write).
/// </remarks>
public sealed class FeatureCache : IDisposable
{
    private static readonly byte[] Magic = "MLTFCACH"u8.ToArray();
    private const int HeaderSize = 16;
    private const int HashSize = 32;
    private const int ChecksumSize = 8;

    private readonly FileStream _file;
    private readonly Dictionary<string, long> _index = new(StringComparer.Ordinal);
    private readonly int _recordSize;
    private readonly object _gate = new();

    private FeatureCache(FileStream file, int featureSize, string path, int recovered)
    {
        _file = file;
        FeatureSize = featureSize;
        FilePath = path;
        _recordSize = HashSize + featureSize * sizeof(float) + ChecksumSize;
        DroppedTornRecords = recovered;
    }

    /// <summary>Width of every feature vector in this cache.</summary>
    public int FeatureSize { get; }
    /// <summary>The cache file.</summary>
    public string FilePath { get; }
    /// <summary>Number of entries.</summary>
    public int Count { get { lock (_gate) return _index.Count; } }
    /// <summary>Bytes dropped from a torn tail when the cache was opened (0 after a clean shutdown).</summary>
    public int DroppedTornRecords { get; }

    /// <summary>
    /// The cache folder name for a backbone and its preprocessing: a digest of the backbone file's
    /// SHA-256 and a canonical description of everything that changes the pixels fed to it.
    /// </summary>
    public static string KeyFor(string backboneSha256, string preprocessing)
    {
        var digest = SHA256.HashData(Encoding.UTF8.GetBytes($"{backboneSha256}\n{preprocessing}"));
        return Convert.ToHexString(digest, 0, 12).ToLowerInvariant();
    }

    /// <summary>
    /// Names the pixels <see cref="Images.ImageDecoder"/> makes and is part of every cache key: bump it whenever
    /// they change (v2: bilinear instead of bicubic resize; v3: PNGs over 16 megapixels averaged in blocks
    /// while their rows are decoded), or cached features would silently go stale. A golden-digest test fails
    /// until it is bumped.
    /// </summary>
    internal const string DecoderVersion = "decoder-v3";

    /// <summary>
    /// Opens the cache for a prepared backbone under <paramref name="workspace"/>: one file per backbone file
    /// (its SHA-256), per preprocessing (everything that changes the pixels fed to it) and per cached tensor.
    /// Every trainer opens its cache here, so they share entries and a decoder change is made in one place.
    /// </summary>
    /// <param name="workspace">The workspace folder.</param>
    /// <param name="folder">Sub-folder of the workspace (<c>features</c>, <c>cuts</c>).</param>
    /// <param name="fileName">Cache file name inside the keyed folder.</param>
    /// <param name="backboneSha256">SHA-256 of the backbone file.</param>
    /// <param name="backbone">The prepared graph whose output is cached.</param>
    /// <param name="tensor">Names the cached tensor (the feature tensor, or a cut).</param>
    /// <param name="viewKey">An augmentation view, or null for the plain image.</param>
    /// <param name="pixels">
    /// Names what decodes the images when it is not <see cref="Images.ImageDecoder"/> (whose pixels are
    /// <see cref="DecoderVersion"/>), e.g. ML.NET's LoadImages for a chain that decodes with it.
    /// </param>
    public static FeatureCache OpenFor(string workspace, string folder, string fileName, string backboneSha256, Backbones.PreparedBackbone backbone,
        string tensor, string? viewKey = null, string? pixels = null)
    {
        var d = backbone.Description;
        var preprocessing = string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{pixels ?? DecoderVersion}|{backbone.InputWidth}x{backbone.InputHeight}|{d.ResizeMode}|{d.ChannelOrder}|{string.Join(',', d.Mean)}|{string.Join(',', d.Std)}|{tensor}");
        if (viewKey is not null)
            preprocessing += "\n" + viewKey;
        return Open(Path.Combine(workspace, folder, KeyFor(backboneSha256, preprocessing), fileName), backbone.FeatureSize);
    }

    /// <summary>Opens (creating if needed) the cache file at <paramref name="path"/>.</summary>
    /// <exception cref="MLTransferException">Another process is writing the cache, or the file belongs to another feature size.</exception>
    public static FeatureCache Open(string path, int featureSize)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        FileStream file;
        try
        {
            // FileShare.None takes an exclusive lock (flock on Unix), so two runs never interleave records.
            file = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException e)
        {
            throw new MLTransferException("The feature cache is in use by another process", path,
                "Wait for the other run to finish, or pass a different --workspace", e);
        }
        try
        {
            if (file.Length == 0)
            {
                var header = new byte[HeaderSize];
                Magic.CopyTo(header, 0);
                BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(8), featureSize);
                file.Write(header);
                file.Flush(true);
            }
            else
            {
                var header = new byte[HeaderSize];
                if (file.Read(header) != HeaderSize || !header.AsSpan(0, 8).SequenceEqual(Magic))
                    throw new MLTransferException("The file is not an MLTransfer feature cache", path, "Delete it or choose another --workspace");
                var stored = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(8));
                if (stored != featureSize)
                    throw new MLTransferException($"The feature cache holds {stored}-d features but the backbone gives {featureSize}-d", path, "Delete the cache folder; it belongs to another backbone");
            }
            var cache = Scan(file, featureSize, path);
            return cache;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    private static FeatureCache Scan(FileStream file, int featureSize, string path)
    {
        var recordSize = HashSize + featureSize * sizeof(float) + ChecksumSize;
        var buffer = new byte[recordSize];
        var index = new Dictionary<string, long>(StringComparer.Ordinal);
        long offset = HeaderSize;
        file.Position = offset;
        while (true)
        {
            var read = file.ReadAtLeast(buffer, recordSize, throwOnEndOfStream: false);
            if (read < recordSize || !ChecksumMatches(buffer))
                break;
            index[Convert.ToHexStringLower(buffer, 0, HashSize)] = offset;
            offset += recordSize;
        }
        var torn = (int)Math.Min(int.MaxValue, file.Length - offset);
        if (torn > 0)
        {
            // A torn or corrupt tail: everything before it is verified, everything after is unusable.
            file.SetLength(offset);
            file.Flush(true);
        }
        file.Position = offset;
        var cache = new FeatureCache(file, featureSize, path, torn);
        foreach (var (k, v) in index)
            cache._index[k] = v;
        return cache;
    }

    private static bool ChecksumMatches(ReadOnlySpan<byte> record)
    {
        var body = record[..^ChecksumSize];
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(body, digest);
        return digest[..ChecksumSize].SequenceEqual(record[^ChecksumSize..]);
    }

    /// <summary>True when features for this content hash are cached.</summary>
    public bool Contains(string contentHash)
    {
        lock (_gate) return _index.ContainsKey(contentHash.ToLowerInvariant());
    }

    /// <summary>Reads the cached features for a content hash, or null.</summary>
    public float[]? TryGet(string contentHash)
    {
        lock (_gate)
        {
            if (!_index.TryGetValue(contentHash.ToLowerInvariant(), out var offset))
                return null;
            var record = new byte[_recordSize];
            _file.Position = offset;
            _file.ReadExactly(record);
            _file.Position = _file.Length;
            var features = new float[FeatureSize];
            MemoryMarshal.Cast<byte, float>(record.AsSpan(HashSize, FeatureSize * sizeof(float))).CopyTo(features);
            return features;
        }
    }

    /// <summary>Appends entries and flushes them to disk, so they survive a crash right after.</summary>
    public void AddRange(IEnumerable<(string ContentHash, float[] Features)> entries)
    {
        lock (_gate)
        {
            using var block = new MemoryStream();
            var offsets = new List<(string, long)>();
            var start = _file.Length;
            var record = new byte[_recordSize];
            foreach (var (hash, features) in entries)
            {
                if (features.Length != FeatureSize)
                    throw new ArgumentException($"Expected {FeatureSize} features, got {features.Length}.");
                Convert.FromHexString(hash).CopyTo(record, 0);
                MemoryMarshal.AsBytes(features.AsSpan()).CopyTo(record.AsSpan(HashSize));
                SHA256.HashData(record.AsSpan(0, _recordSize - ChecksumSize)).AsSpan(0, ChecksumSize).CopyTo(record.AsSpan(_recordSize - ChecksumSize));
                offsets.Add((hash.ToLowerInvariant(), start + block.Length));
                block.Write(record);
            }
            _file.Position = start;
            block.Position = 0;
            block.CopyTo(_file);
            _file.Flush(true);
            foreach (var (h, o) in offsets)
                _index[h] = o;
        }
    }

    /// <inheritdoc />
    public void Dispose() => _file.Dispose();
}
