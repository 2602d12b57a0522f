namespace MLTransfer.Backbones.Store;

/// <summary>Where <see cref="BackboneStore"/> looks for backbone files and how it downloads them.</summary>
internal sealed record BackboneStoreOptions
{
    /// <summary>Environment variable holding offline folders, separated by <see cref="Path.PathSeparator"/>.</summary>
    public const string OfflineDirsEnvironmentVariable = "MLTRANSFER_BACKBONE_DIR";

    /// <summary>
    /// Folder for downloaded backbones. Default: <c>$XDG_CACHE_HOME/mltransfer/backbones</c>, or
    /// <c>~/.cache/mltransfer/backbones</c> when <c>XDG_CACHE_HOME</c> is unset.
    /// </summary>
    public string CacheDir { get; init; } = DefaultCacheDir();

    /// <summary>
    /// Read-only folders searched after the cache, in order (e.g. <c>--backbone-dir</c> values followed by
    /// <c>$MLTRANSFER_BACKBONE_DIR</c>; see <see cref="FromEnvironment"/>). Empty by default.
    /// </summary>
    public IReadOnlyList<string> OfflineDirs { get; init; } = [];

    /// <summary>Whether <see cref="BackboneStore.Resolve"/> may download a backbone that is not found locally.</summary>
    public bool AllowDownload { get; init; } = true;

    /// <summary>
    /// HTTP client to use, or null to create one (proxy taken from <c>HTTP_PROXY</c>/<c>HTTPS_PROXY</c>/<c>NO_PROXY</c>
    /// as HttpClient does by default). A client passed here is not disposed by the store.
    /// </summary>
    public HttpClient? HttpClient { get; init; }

    /// <summary>Time allowed for connecting and receiving the response headers of one request.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>A download is abandoned (and retried) when no byte arrives for this long.</summary>
    public TimeSpan ReadInactivityTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Retries per URL after the first attempt, on transient failures (I/O, timeouts, 5xx, 408, 429).</summary>
    public int MaxRetries { get; init; } = 4;

    /// <summary>Delay before the first retry; doubled for each further retry.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Upper bound of the delay between retries.</summary>
    public TimeSpan RetryMaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Receives download progress (bytes, total, rate), or null.</summary>
    public IProgress<DownloadProgress>? Progress { get; init; }

    /// <summary>Receives one line for each resolution step (what was looked at and why it was chosen), or null.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>
    /// Folder whose NuGet.Config files (with the user's and the machine's) give the NuGet feeds, credentials, proxy
    /// and global packages folder for backbones shipped as NuGet packages; null for the current directory, as
    /// <c>dotnet restore</c> does.
    /// </summary>
    internal string? NuGetSettingsRoot { get; init; }

    /// <summary>Replaces the NuGet global packages folder (tests); null to take it from NuGet's settings.</summary>
    internal string? NuGetGlobalPackagesFolder { get; init; }

    /// <summary>The default cache folder (see <see cref="CacheDir"/>).</summary>
    public static string DefaultCacheDir() => Path.Combine(UserFolders.Cache, "backbones");

    /// <summary>The folders listed in <c>$MLTRANSFER_BACKBONE_DIR</c> (empty entries dropped).</summary>
    public static IReadOnlyList<string> OfflineDirsFromEnvironment() =>
        SplitDirs(Environment.GetEnvironmentVariable(OfflineDirsEnvironmentVariable));

    /// <summary>Splits a <see cref="Path.PathSeparator"/>-separated folder list.</summary>
    public static IReadOnlyList<string> SplitDirs(string? list) =>
        string.IsNullOrWhiteSpace(list)
            ? []
            : list.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>
    /// Default options with <see cref="OfflineDirs"/> = <paramref name="backboneDirs"/> (e.g. the
    /// <c>--backbone-dir</c> values, searched first) followed by <c>$MLTRANSFER_BACKBONE_DIR</c>.
    /// </summary>
    public static BackboneStoreOptions FromEnvironment(IEnumerable<string>? backboneDirs = null)
    {
        var dirs = new List<string>();
        foreach (var d in (backboneDirs ?? []).Concat(OfflineDirsFromEnvironment()))
        {
            var full = Path.GetFullPath(d);
            if (!dirs.Contains(full)) dirs.Add(full);
        }
        return new BackboneStoreOptions { OfflineDirs = dirs };
    }
}

/// <summary>One download progress report.</summary>
/// <param name="Name">Backbone name.</param>
/// <param name="Url">URL being downloaded.</param>
/// <param name="BytesReceived">Bytes in the partial file so far (including resumed bytes).</param>
/// <param name="TotalBytes">Expected total, or null when unknown.</param>
/// <param name="BytesPerSecond">Average rate of this request.</param>
/// <param name="Completed">True for the last report of a finished transfer.</param>
internal readonly record struct DownloadProgress(
    string Name, string Url, long BytesReceived, long? TotalBytes, double BytesPerSecond, bool Completed)
{
    /// <summary>Fraction done in [0, 1], or null when the total is unknown.</summary>
    public double? Fraction => TotalBytes is > 0 ? Math.Min(1.0, (double)BytesReceived / TotalBytes.Value) : null;
}

/// <summary>Where a resolved backbone file was found.</summary>
internal enum BackboneLocation
{
    /// <summary>The user named an existing .onnx file.</summary>
    ExplicitFile,
    /// <summary>Found in the cache folder.</summary>
    Cache,
    /// <summary>Found in an offline folder.</summary>
    Offline,
    /// <summary>Downloaded into the cache by this call.</summary>
    Downloaded,
    /// <summary>Read from a package in the NuGet global packages folder (and combined into the cache by this call).</summary>
    NuGetPackage,
}

/// <summary>A backbone file ready to use.</summary>
/// <param name="Description">The catalog record (a "custom" record for an explicit file).</param>
/// <param name="FilePath">Absolute path of the .onnx file.</param>
/// <param name="Sha256">SHA-256 of the file as computed now (lower-case hex).</param>
/// <param name="How">Where it was found.</param>
/// <param name="Reason">One human sentence saying why this file was used.</param>
internal sealed record ResolvedBackbone(
    BackboneDescription Description, string FilePath, string Sha256, BackboneLocation How, string Reason);

/// <summary>The default backbone choice.</summary>
/// <param name="Description">The chosen record.</param>
/// <param name="Local">The verified local file, or null when it must be downloaded.</param>
/// <param name="Reason">Why it was chosen, e.g. "mobilenet-v2: first catalog entry found locally, in offline folder /x".</param>
internal sealed record BackboneChoice(BackboneDescription Description, ResolvedBackbone? Local, string Reason);

/// <summary>One line of <c>backbones list</c>.</summary>
/// <param name="Description">The catalog record.</param>
/// <param name="LocalPath">The file that <see cref="BackboneStore.Resolve"/> would use, or null.</param>
/// <param name="Location">Cache, Offline or NuGetPackage when found locally, else null.</param>
/// <param name="SizeMatches">Whether the local file's size equals the record's (true when the record has no size).</param>
internal sealed record BackboneListing(
    BackboneDescription Description, string? LocalPath, BackboneLocation? Location, bool SizeMatches)
{
    /// <summary>Catalog name.</summary>
    public string Name => Description.Name;
    /// <summary>Expected size in bytes (of the package's files for a NuGet backbone), or null when unknown.</summary>
    public long? SizeBytes => Description.Package is { } p ? p.Model.SizeBytes + (p.Preprocess?.SizeBytes ?? 0) : Description.SizeBytes;
    /// <summary>Whether a local file exists (not hashed; see <see cref="BackboneStore.Verify"/>).</summary>
    public bool AvailableLocally => LocalPath is not null;
    /// <summary>Whether the record has download URLs or comes from a NuGet package (downloaded from the NuGet feeds).</summary>
    public bool Downloadable => Description.Urls.Count > 0 || Description.Package is not null;
}

/// <summary>Outcome of checking one local file.</summary>
internal enum VerifyStatus
{
    /// <summary>Size and SHA-256 match the record.</summary>
    Ok,
    /// <summary>The record has no checksum: the file's hash is reported but cannot be checked.</summary>
    Unverified,
    /// <summary>The file's size or SHA-256 differs from the record.</summary>
    Mismatch,
    /// <summary>The file could not be read.</summary>
    Unreadable,
}

/// <summary>One line of <c>backbones verify</c>.</summary>
/// <param name="Description">The catalog record.</param>
/// <param name="FilePath">The file checked.</param>
/// <param name="Location">Cache, Offline or NuGetPackage.</param>
/// <param name="Status">The outcome.</param>
/// <param name="ActualSha256">Computed hash, or null when unreadable.</param>
/// <param name="ActualSize">File size in bytes.</param>
/// <param name="Message">Human explanation.</param>
internal sealed record VerifyResult(
    BackboneDescription Description, string FilePath, BackboneLocation Location, VerifyStatus Status,
    string? ActualSha256, long ActualSize, string Message)
{
    /// <summary>Catalog name.</summary>
    public string Name => Description.Name;
}
