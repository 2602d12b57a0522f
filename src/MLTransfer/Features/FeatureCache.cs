using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
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
/// <para>The file is append-only and every record carries its own checksum, so a process killed mid-write
/// (kill -9, power loss) leaves at worst one incomplete record at the end; opening the cache cuts it off and
/// keeps everything before it. Records are fixed-size, so a record damaged in the middle is dropped on its
/// own and the records after it are kept. A file whose header is unusable is moved aside (never deleted: it
/// may not be ours) and an empty cache started; <see cref="OpenNotices"/> says what was found.</para>
/// <para>One run uses a cache at a time: a run that finds it held waits for it (see
/// <see cref="FeatureCacheOpenOptions.LockTimeout"/>), so two runs never interleave records.</para>
/// </remarks>
internal sealed class FeatureCache : IDisposable
{
    private static readonly byte[] Magic = "MLTFCACH"u8.ToArray();
    private const int HeaderSize = 16;
    private const int HashSize = 32;
    private const int ChecksumSize = 8;

    private readonly FileStream _lockFile;
    private readonly FileStream _file;
    private readonly Dictionary<string, long> _index;
    private readonly int _recordSize;
    private readonly object _gate = new();

    private FeatureCache(FileStream lockFile, FileStream file, int featureSize, string path, Dictionary<string, long> index, ScanResult scan,
        string? quarantined, IReadOnlyList<string> notices)
    {
        _lockFile = lockFile;
        _file = file;
        _index = index;
        FeatureSize = featureSize;
        FilePath = path;
        _recordSize = RecordSize(featureSize);
        CorruptRecordsDropped = scan.CorruptRecords;
        TornTailBytes = scan.TornTailBytes;
        QuarantinedFile = quarantined;
        OpenNotices = notices;
    }

    /// <summary>Width of every feature vector in this cache.</summary>
    public int FeatureSize { get; }
    /// <summary>The cache file.</summary>
    public string FilePath { get; }
    /// <summary>Number of entries.</summary>
    public int Count { get { lock (_gate) return _index.Count; } }
    /// <summary>
    /// Whole records dropped when the cache was opened because their checksum did not match (damaged on
    /// disk); the records around them are kept, and their images are simply extracted again.
    /// </summary>
    public int CorruptRecordsDropped { get; }
    /// <summary>Bytes of an incomplete last record cut off when the cache was opened (an interrupted write); 0 after a clean shutdown.</summary>
    public long TornTailBytes { get; }
    /// <summary>Where an unusable cache file (bad header) was moved when the cache was opened, or null when none was.</summary>
    public string? QuarantinedFile { get; }
    /// <summary>
    /// One line per repair the open made (a file moved aside, damaged records or an incomplete tail dropped),
    /// for the caller's log; empty when the cache was opened as it was left.
    /// </summary>
    public IReadOnlyList<string> OpenNotices { get; }

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
    /// Opens the cache that <paramref name="key"/> names, as <paramref name="options"/> configure it, and logs
    /// what was found (entries, repairs); null when the cache is turned off.
    /// </summary>
    /// <exception cref="MLTransferException">Another run still holds the cache after the wait, or the workspace cannot be written.</exception>
    internal static FeatureCache? OpenFor(FeatureCacheOptions options, FeatureCacheKey key, Action<string> log, CancellationToken cancellation)
    {
        if (!options.Enabled)
            return null;
        var cache = Open(key.PathIn(options.ResolvedWorkspace), key.Backbone.FeatureSize,
            new FeatureCacheOpenOptions { LockTimeout = options.LockTimeout, Log = log, Cancellation = cancellation });
        var name = key.Tensor is null ? "feature cache" : "cut-activation cache";
        log($"{name}: {cache.FilePath} ({cache.Count} entries)");
        foreach (var notice in cache.OpenNotices)
            log($"{name}: {notice}");
        return cache;
    }

    /// <summary>
    /// Opens (creating if needed) the cache file at <paramref name="path"/>, waiting while another run holds it.
    /// A file with an unusable header is moved aside and an empty cache started; damaged records are dropped.
    /// Both are reported in <see cref="OpenNotices"/>.
    /// </summary>
    /// <param name="path">The cache file.</param>
    /// <param name="featureSize">Width of the feature vectors.</param>
    /// <param name="options">Waiting for another run, and where to say so; null for the defaults.</param>
    /// <exception cref="MLTransferException">Another run still holds the cache after the wait, or the file cannot be opened or moved aside.</exception>
    public static FeatureCache Open(string path, int featureSize, FeatureCacheOpenOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(featureSize);
        options ??= FeatureCacheOpenOptions.Default;
        var full = Path.GetFullPath(path);
        var folder = Path.GetDirectoryName(full)!;
        try
        {
            Directory.CreateDirectory(folder);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MLTransferException("Cannot create the feature cache folder", folder,
                "Check that the workspace folder is writable, or set another FeatureCacheOptions.WorkspacePath (CLI: --workspace), or Enabled = false (CLI: --no-cache)", e);
        }

        var (lockFile, file) = Acquire(full, options);
        try
        {
            var notices = new List<string>();
            string? quarantined = null;
            if (HeaderProblem(file, featureSize) is { } problem)
            {
                // Closed before the move so that it also works where an open file cannot be renamed (Windows);
                // the lock file is still held, so no other run can open the file in between.
                file.Dispose();
                quarantined = Quarantine(full);
                try
                {
                    file = OpenExclusive(full);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new MLTransferException($"Cannot start a new feature cache after moving the damaged one to {quarantined}: {e.Message}", full,
                        "Make sure no older MLTransfer version uses this workspace, or set another FeatureCacheOptions.WorkspacePath (CLI: --workspace)", e);
                }
                notices.Add($"{problem}; moved it to {quarantined} and started an empty cache (delete that file once you no longer need it)");
                if (HeaderProblem(file, featureSize) is { } again)
                    throw new MLTransferException($"The feature cache file was replaced while it was being repaired: {again}", full,
                        "Make sure no older MLTransfer version uses this workspace, or set another FeatureCacheOptions.WorkspacePath (CLI: --workspace)");
            }
            if (file.Length == 0)
            {
                var header = new byte[HeaderSize];
                Magic.CopyTo(header, 0);
                BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(8), featureSize);
                file.Write(header);
                file.Flush(true);
            }
            var (index, scan) = Scan(file, featureSize);
            if (scan.CorruptRecords > 0)
                notices.Add($"dropped {scan.CorruptRecords} damaged record(s) (checksum mismatch) and kept the other {index.Count}; their images will be extracted again");
            if (scan.TornTailBytes > 0)
                notices.Add($"dropped an incomplete last record ({scan.TornTailBytes} bytes, left by an interrupted write)");
            return new FeatureCache(lockFile, file, featureSize, full, index, scan, quarantined, notices);
        }
        catch
        {
            file.Dispose();
            lockFile.Dispose();
            throw;
        }
    }

    private static int RecordSize(int featureSize) => HashSize + featureSize * sizeof(float) + ChecksumSize;

    /// <summary>
    /// Takes the cache's lock file and then the cache file itself, both exclusively, retrying while another
    /// run holds either until <see cref="FeatureCacheOpenOptions.LockTimeout"/>.
    /// </summary>
    /// <remarks>
    /// Runs queue on a lock file that is never renamed or deleted, rather than on the cache file: the cache file
    /// may be moved aside while held, and a run that had opened it just before would then lock a file that is
    /// no longer the cache. The cache file is still opened exclusively, which keeps out older versions that
    /// only lock the cache file.
    /// </remarks>
    private static (FileStream Lock, FileStream File) Acquire(string path, FeatureCacheOpenOptions options)
    {
        var clock = Stopwatch.StartNew();
        var waiting = false;
        while (true)
        {
            FileStream? lockFile = null;
            try
            {
                lockFile = OpenExclusive(path + ".lock");
                var file = OpenExclusive(path);
                if (waiting)
                    options.Log?.Invoke(string.Create(CultureInfo.InvariantCulture, $"the feature cache was released after {clock.Elapsed.TotalSeconds:F1} s; continuing"));
                return (lockFile, file);
            }
            catch (IOException e) when (IsHeldByAnotherProcess(e))
            {
                lockFile?.Dispose();
                var left = options.LockTimeout - clock.Elapsed;
                if (left <= TimeSpan.Zero)
                    throw new MLTransferException(
                        options.LockTimeout <= TimeSpan.Zero
                            ? "The feature cache is in use by another run"
                            : $"The feature cache is still in use by another run after waiting {Describe(options.LockTimeout)}",
                        path, "Wait for the other run to finish and try again, or set another FeatureCacheOptions.WorkspacePath (CLI: --workspace) so that the two runs do not share a cache", e);
                if (!waiting)
                {
                    options.Log?.Invoke($"waiting for another run to release the feature cache {path}… (up to {Describe(options.LockTimeout)}; another FeatureCacheOptions.WorkspacePath, CLI --workspace, avoids the wait)");
                    waiting = true;
                }
                var pause = options.PollInterval < left ? options.PollInterval : left;
                if (options.Cancellation.WaitHandle.WaitOne(pause))
                    options.Cancellation.ThrowIfCancellationRequested();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                lockFile?.Dispose();
                throw new MLTransferException($"Cannot open the feature cache: {e.Message}", path,
                    "Check that the workspace folder is writable, or set another FeatureCacheOptions.WorkspacePath (CLI: --workspace), or Enabled = false (CLI: --no-cache)", e);
            }
        }
    }

    // FileShare.None takes an exclusive lock (flock on Unix), which the OS drops when the process dies, so a
    // killed run never leaves the cache locked.
    private static FileStream OpenExclusive(string path) => new(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);

    /// <summary>True for the error of a file locked by another open: not every IOException means "wait".</summary>
    private static bool IsHeldByAnotherProcess(IOException e)
    {
        if (e.GetType() != typeof(IOException))
            return false;
        if (OperatingSystem.IsWindows())
            return (e.HResult & 0xFFFF) is 32 or 33; // ERROR_SHARING_VIOLATION, ERROR_LOCK_VIOLATION
        return e.HResult is 11 or 35; // EWOULDBLOCK from flock: 11 on Linux, 35 on macOS and the BSDs
    }

    private static string Describe(TimeSpan t) => t.TotalMinutes >= 1 && t.Seconds == 0 && t.Milliseconds == 0
        ? string.Create(CultureInfo.InvariantCulture, $"{t.TotalMinutes:0} min")
        : string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:0.#} s");

    /// <summary>Why the file's header makes it unusable as this cache, or null when it is fine (or the file is new).</summary>
    private static string? HeaderProblem(FileStream file, int featureSize)
    {
        if (file.Length == 0)
            return null;
        if (file.Length < HeaderSize)
            return $"the file is only {file.Length} bytes, too short to hold a feature cache header";
        var header = new byte[HeaderSize];
        file.Position = 0;
        file.ReadExactly(header);
        if (!header.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            return "the file does not start with the feature cache signature (damaged, or not a feature cache)";
        var stored = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(8));
        // The folder is keyed by the backbone file's hash and the preprocessing, so a cache of another width
        // can only get here by damage to this field.
        if (stored != featureSize)
            return $"its header says {stored}-d features but the backbone gives {featureSize}-d, so the header is damaged";
        return null;
    }

    /// <summary>Renames an unusable cache file to <c>NAME.corrupt-UTCSTAMP</c> beside it and returns the new name.</summary>
    private static string Quarantine(string path)
    {
        var stamp = DateTime.UtcNow.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        for (var n = 1; ; n++)
        {
            var aside = n == 1 ? $"{path}.corrupt-{stamp}" : $"{path}.corrupt-{stamp}-{n}";
            if (File.Exists(aside))
                continue;
            try
            {
                File.Move(path, aside, overwrite: false);
                return aside;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                if (File.Exists(aside) && n < 100)
                    continue;
                throw new MLTransferException($"The feature cache is damaged and cannot be moved aside: {e.Message}", path,
                    "Move or delete the file by hand, or set another FeatureCacheOptions.WorkspacePath (CLI: --workspace)", e);
            }
        }
    }

    private readonly record struct ScanResult(int CorruptRecords, long TornTailBytes);

    /// <summary>
    /// Indexes every record whose checksum matches. Damaged records are dropped by moving the later ones down
    /// over them, and an incomplete last record is cut off, so the file ends up holding only verified,
    /// aligned records and the damage is reported once.
    /// </summary>
    /// <remarks>
    /// Compacting in place needs no extra disk space, and a kill part-way through only leaves records that
    /// are either whole (possibly twice, which is harmless) or fail their checksum and are dropped next time.
    /// </remarks>
    private static (Dictionary<string, long> Index, ScanResult Result) Scan(FileStream file, int featureSize)
    {
        var recordSize = RecordSize(featureSize);
        var buffer = new byte[recordSize];
        var index = new Dictionary<string, long>(StringComparer.Ordinal);
        var records = (file.Length - HeaderSize) / recordSize;
        var torn = (file.Length - HeaderSize) % recordSize;
        var corrupt = 0;
        long write = HeaderSize;
        file.Position = HeaderSize;
        for (long r = 0; r < records; r++)
        {
            var read = HeaderSize + r * recordSize;
            if (file.Position != read)
                file.Position = read;
            file.ReadExactly(buffer);
            if (!ChecksumMatches(buffer))
            {
                corrupt++;
                continue;
            }
            if (write != read)
            {
                file.Position = write;
                file.Write(buffer);
            }
            index[Convert.ToHexStringLower(buffer, 0, HashSize)] = write;
            write += recordSize;
        }
        if (write != file.Length)
        {
            file.SetLength(write);
            file.Flush(true);
        }
        file.Position = write;
        return (index, new ScanResult(corrupt, torn));
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
    public void Dispose()
    {
        _file.Dispose();
        // Released last: the next run must not get in before the cache file is closed.
        _lockFile.Dispose();
    }
}
