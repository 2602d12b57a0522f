using MLTransfer.Backbones.Catalog;

namespace MLTransfer.Backbones.Store;

/// <summary>
/// Finds backbone files: an explicit .onnx path, the cache folder, the offline folders, or a download,
/// in that order. Every step is reported through <see cref="BackboneStoreOptions.Log"/>. Files from the cache
/// or an offline folder are checked (size and SHA-256) against their catalog record; a mismatch is refused with
/// a <see cref="BackboneIntegrityException"/>, never used silently.
/// </summary>
/// <remarks>
/// A record with a <see cref="BackboneDescription.Package"/> comes from a NuGet package instead: its combined graph
/// in the cache, else the package in the NuGet global packages folder, else the package downloaded from the NuGet
/// feeds; the package's files are checked against the record and combined into one graph in the cache.
/// </remarks>
internal sealed class BackboneStore : IDisposable
{
    private readonly Lazy<BackboneDownloader> _downloader;
    private readonly Lazy<NuGetBackbonePackages> _nuget;

    /// <summary>Creates a store over <paramref name="catalog"/>.</summary>
    /// <param name="catalog">The backbone records.</param>
    /// <param name="options">Folders and download settings; null for <see cref="BackboneStoreOptions.FromEnvironment"/>.</param>
    public BackboneStore(BackboneCatalog catalog, BackboneStoreOptions? options = null)
    {
        Catalog = catalog;
        Options = options ?? BackboneStoreOptions.FromEnvironment();
        _downloader = new Lazy<BackboneDownloader>(() => new BackboneDownloader(Options));
        _nuget = new Lazy<NuGetBackbonePackages>(() => new NuGetBackbonePackages(Options.NuGetSettingsRoot, Options.NuGetGlobalPackagesFolder, Log));
    }

    /// <summary>The backbone records.</summary>
    public BackboneCatalog Catalog { get; }

    /// <summary>Folders and download settings.</summary>
    public BackboneStoreOptions Options { get; }

    /// <summary>Absolute cache folder.</summary>
    public string CacheDir => Path.GetFullPath(Options.CacheDir);

    /// <summary>Absolute offline folders, in search order.</summary>
    public IReadOnlyList<string> OfflineDirs => Options.OfflineDirs.Select(Path.GetFullPath).ToList();

    /// <summary>Synchronous <see cref="ResolveAsync(string, CancellationToken)"/>.</summary>
    public ResolvedBackbone Resolve(string nameOrPath, CancellationToken ct = default) =>
        ResolveAsync(nameOrPath, ct).GetAwaiter().GetResult();

    /// <summary>
    /// Resolves a catalog name or a path to an existing .onnx file. Order: explicit file → cache → offline
    /// folders → download (when <see cref="BackboneStoreOptions.AllowDownload"/>).
    /// </summary>
    /// <remarks>
    /// An explicit file gets a "custom" record named after the file, with the <see cref="BackboneDescription"/>
    /// defaults (ImageNet mean/std, 224×224, Fill); the caller may apply user-supplied preprocessing with
    /// <c>with</c>. If the file's SHA-256 equals a catalog record's, that record is used instead, so a catalog
    /// model named by path keeps its real preprocessing.
    /// </remarks>
    /// <exception cref="MLTransferException">Unknown name, missing file, not available, or download failure.</exception>
    /// <exception cref="BackboneIntegrityException">A local or downloaded file does not match its record.</exception>
    public async Task<ResolvedBackbone> ResolveAsync(string nameOrPath, CancellationToken ct = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(nameOrPath);
        if (LooksLikePath(nameOrPath))
        {
            var full = Path.GetFullPath(ExpandHome(nameOrPath));
            if (File.Exists(full)) return ResolveExplicitFile(full);
            if (!Catalog.TryFind(nameOrPath, out _))
            {
                throw new MLTransferException("The backbone file does not exist", full,
                    $"Check the path, or use a catalog name: {string.Join(", ", Catalog.Names)}.");
            }
        }
        else
        {
            Log($"'{nameOrPath}' is not a path to an .onnx file; looking it up in the catalog");
        }
        return await ResolveAsync(Catalog.Find(nameOrPath), ct).ConfigureAwait(false);
    }

    /// <summary>Resolves a catalog record: cache → offline folders → download.</summary>
    public async Task<ResolvedBackbone> ResolveAsync(BackboneDescription description, CancellationToken ct = default)
    {
        var local = FindLocal(description);
        if (local is not null) return local;

        if (description.Package is { } package)
        {
            if (!Options.AllowDownload)
            {
                throw new MLTransferException(
                    $"Backbone '{description.Name}' (NuGet package {package.Id} {package.Version}) is not available locally and downloads are disabled",
                    $"cache {CacheDir}; NuGet global packages folder {_nuget.Value.GlobalPackagesFolder}",
                    $"Run 'mltransfer backbones pull {description.Name}', or 'dotnet restore' a project that references {package.Id} {package.Version}, or allow downloads.");
            }
            return await DownloadPackageAsync(description, ct).ConfigureAwait(false);
        }

        if (!Options.AllowDownload)
        {
            throw new MLTransferException(
                $"Backbone '{description.Name}' is not available locally and downloads are disabled",
                SearchedPlaces(),
                $"Put {description.FileName} in an offline folder (BackboneSource.Dirs, CLI: --backbone-dir, or {BackboneStoreOptions.OfflineDirsEnvironmentVariable}), " +
                "or allow downloads.");
        }
        if (description.Urls.Count == 0)
        {
            throw new MLTransferException(
                $"Backbone '{description.Name}' is not available locally and has no download URL",
                SearchedPlaces(),
                $"Copy {description.FileName} (SHA-256 {description.Sha256 ?? "unknown"}) into an offline folder " +
                $"(BackboneSource.Dirs, CLI: --backbone-dir, or {BackboneStoreOptions.OfflineDirsEnvironmentVariable}), or choose a downloadable backbone.");
        }

        Log($"'{description.Name}' not found locally; downloading it into the cache {CacheDir}");
        var (path, sha) = await _downloader.Value.DownloadAsync(description, ct).ConfigureAwait(false);
        return new ResolvedBackbone(description, path, sha, BackboneLocation.Downloaded,
            $"{description.Name}: downloaded from {HostOf(description.Urls)} into the cache {CacheDir}, SHA-256 verified");
    }

    /// <summary>
    /// The verified local file of <paramref name="description"/> (cache first, then offline folders), or null
    /// when there is none.
    /// </summary>
    /// <exception cref="BackboneIntegrityException">The first file found does not match the record.</exception>
    public ResolvedBackbone? FindLocal(BackboneDescription description)
    {
        if (description.Package is not null)
            return FindLocalPackage(description);
        var name = description.Name;
        var cached = Path.Combine(CacheDir, description.FileName);
        if (File.Exists(cached))
        {
            Log($"'{name}': found {cached} in the cache; verifying SHA-256");
            var sha = BackboneFileVerifier.VerifyOrThrow(description, cached, BackboneLocation.Cache);
            Log(VerifiedLine(description, sha));
            return new ResolvedBackbone(description, cached, sha, BackboneLocation.Cache,
                $"{name}: found in the cache folder {CacheDir}{VerifiedSuffix(description)}");
        }
        Log($"'{name}': not in the cache ({cached})");

        var dirs = OfflineDirs;
        if (dirs.Count == 0)
            Log($"'{name}': no offline folders configured (BackboneSource.Dirs, CLI: --backbone-dir, or {BackboneStoreOptions.OfflineDirsEnvironmentVariable})");
        foreach (var dir in dirs)
        {
            if (!Directory.Exists(dir))
            {
                Log($"'{name}': offline folder {dir} does not exist; skipped");
                continue;
            }
            var candidate = Path.Combine(dir, description.FileName);
            if (!File.Exists(candidate))
            {
                Log($"'{name}': not in offline folder {dir}");
                continue;
            }
            Log($"'{name}': found {candidate} in offline folder {dir}; verifying SHA-256");
            var sha = BackboneFileVerifier.VerifyOrThrow(description, candidate, BackboneLocation.Offline);
            Log(VerifiedLine(description, sha));
            return new ResolvedBackbone(description, candidate, sha, BackboneLocation.Offline,
                $"{name}: found in offline folder {dir}{VerifiedSuffix(description)}");
        }
        return null;
    }

    /// <summary>
    /// The combined graph of a NuGet backbone in the cache, else one built now from the package in the NuGet global
    /// packages folder, else null.
    /// </summary>
    private ResolvedBackbone? FindLocalPackage(BackboneDescription d)
    {
        var p = d.Package!;
        var nuget = _nuget.Value;
        if (nuget.FindCached(CacheDir, d) is { } cached)
        {
            Log($"'{d.Name}': combined graph found in the cache ({cached.Path}); its SHA-256 matches the one recorded when it was built");
            return new ResolvedBackbone(d, cached.Path, cached.Sha256, BackboneLocation.Cache,
                $"{d.Name}: {Title(d)} from the NuGet package {p.Id} {p.Version}, combined graph found in the cache folder {CacheDir}");
        }
        Log($"'{d.Name}': no combined graph in the cache ({NuGetBackbonePackages.CombinedPath(CacheDir, d)})");
        var installed = nuget.FindInstalled(p);
        if (installed is null)
        {
            Log($"'{d.Name}': {p.Id} {p.Version} is not in the NuGet global packages folder {nuget.GlobalPackagesFolder}");
            return null;
        }
        Log($"'{d.Name}': found {p.Id} {p.Version} in the NuGet global packages folder ({installed}); verifying and combining its files");
        var (path, sha, _) = nuget.BuildFromInstalled(CacheDir, d, installed);
        return new ResolvedBackbone(d, path, sha, BackboneLocation.NuGetPackage,
            $"{d.Name}: {Title(d)} from the NuGet package {p.Id} {p.Version} found in {nuget.GlobalPackagesFolder}");
    }

    private async Task<ResolvedBackbone> DownloadPackageAsync(BackboneDescription d, CancellationToken ct)
    {
        var p = d.Package!;
        Log($"'{d.Name}': not found locally; downloading {p.Id} {p.Version} from the NuGet feeds ({_nuget.Value.DescribeFeeds()})");
        var (path, sha, feed, _) = await _nuget.Value.DownloadAsync(CacheDir, d, ct).ConfigureAwait(false);
        return new ResolvedBackbone(d, path, sha, BackboneLocation.Downloaded,
            $"{d.Name}: {Title(d)} from the NuGet package {p.Id} {p.Version} downloaded from {feed.Name} ({feed.Source}), combined into the cache {CacheDir}");
    }

    private static string Title(BackboneDescription d) => d.Package?.Title ?? d.Name;

    /// <summary>The default backbone from this store's catalog; see <see cref="ChooseDefault(BackboneCatalog)"/>.</summary>
    public BackboneChoice ChooseDefault() => ChooseDefault(Catalog);

    /// <summary>
    /// The first entry of <paramref name="catalog"/> available locally (cache, offline folder or NuGet global packages
    /// folder, verified); otherwise <see cref="BuiltInBackbones.DownloadFallbackName"/>, to be downloaded. The
    /// <see cref="BackboneChoice.Reason"/> is meant to be printed and recorded with the trained model.
    /// </summary>
    /// <exception cref="BackboneIntegrityException">A local file found on the way does not match its record.</exception>
    /// <exception cref="MLTransferException">Nothing is local and downloads are disabled.</exception>
    public BackboneChoice ChooseDefault(BackboneCatalog catalog)
    {
        foreach (var entry in catalog.Entries)
        {
            var local = FindLocal(entry);
            if (local is null) continue;
            var where = local.How == BackboneLocation.Cache
                ? $"in the cache folder {CacheDir}"
                : $"in offline folder {Path.GetDirectoryName(local.FilePath)}";
            // A package backbone's own reason already says where it came from (package, folder, cache).
            var reason = entry.Package is null
                ? $"{entry.Name}: first catalog entry found locally, {where}"
                : $"{local.Reason}; the first catalog entry available locally";
            // The caller logs the choice with its reason; logging it here too printed it twice.
            return new BackboneChoice(entry, local, reason);
        }

        if (!Options.AllowDownload)
        {
            throw new MLTransferException(
                "No catalog backbone is available locally and downloads are disabled", SearchedPlaces(catalog),
                "Name a folder in BackboneSource.Dirs (CLI: --backbone-dir) holding one of: " +
                string.Join(", ", catalog.Entries.Where(e => e.Package is null).Select(e => e.FileName)) +
                string.Concat(catalog.Entries.Where(e => e.Package is not null).Take(1).Select(e =>
                    $"; or restore the NuGet package {e.Package!.Id} {e.Package.Version} (backbone '{e.Name}')")) +
                "; or allow downloads.");
        }
        var fallback = catalog.Find(BuiltInBackbones.DownloadFallbackName);
        var because = $"{fallback.Name}: no catalog entry found locally (searched {SearchedPlaces(catalog)}); " +
                      (fallback.Package is { } package
                          ? $"{Title(fallback)} will be downloaded as the NuGet package {package.Id} {package.Version} from the NuGet feeds ({_nuget.Value.DescribeFeeds()})"
                          : $"it will be downloaded from {HostOf(fallback.Urls)}");
        return new BackboneChoice(fallback, null, because);
    }

    /// <summary>Synchronous <see cref="PullAsync"/>.</summary>
    public ResolvedBackbone Pull(string name, CancellationToken ct = default) => PullAsync(name, ct).GetAwaiter().GetResult();

    /// <summary>
    /// Makes sure the backbone is in the cache, downloading it if needed (even when
    /// <see cref="BackboneStoreOptions.AllowDownload"/> is false: this is an explicit request). A cached file that
    /// fails verification is deleted and downloaded again.
    /// </summary>
    public async Task<ResolvedBackbone> PullAsync(string name, CancellationToken ct = default)
    {
        var d = Catalog.Find(name);
        if (d.Package is not null)
            return FindLocalPackage(d) ?? await DownloadPackageAsync(d, ct).ConfigureAwait(false);
        var cached = Path.Combine(CacheDir, d.FileName);
        if (File.Exists(cached))
        {
            try
            {
                var sha = BackboneFileVerifier.VerifyOrThrow(d, cached, BackboneLocation.Cache);
                Log($"'{d.Name}' is already in the cache ({cached}); {VerifiedLine(d, sha)}");
                return new ResolvedBackbone(d, cached, sha, BackboneLocation.Cache,
                    $"{d.Name}: already in the cache folder {CacheDir}{VerifiedSuffix(d)}");
            }
            catch (BackboneIntegrityException ex)
            {
                Log($"cached file {cached} does not match the record ({ex.What}); deleting it and downloading again");
                File.Delete(cached);
            }
        }
        if (d.Urls.Count == 0)
        {
            throw new MLTransferException($"Backbone '{d.Name}' has no download URL", null,
                $"Copy {d.FileName} (SHA-256 {d.Sha256 ?? "unknown"}) into an offline folder or into {CacheDir}.");
        }
        var (path, hash) = await _downloader.Value.DownloadAsync(d, ct).ConfigureAwait(false);
        return new ResolvedBackbone(d, path, hash, BackboneLocation.Downloaded,
            $"{d.Name}: downloaded from {HostOf(d.Urls)} into the cache {CacheDir}, SHA-256 verified");
    }

    /// <summary>
    /// One line per catalog entry: name, size, and where <see cref="Resolve"/> would find it locally (by file
    /// presence and size only; <see cref="Verify"/> hashes the files).
    /// </summary>
    public IReadOnlyList<BackboneListing> List()
    {
        var result = new List<BackboneListing>();
        foreach (var d in Catalog.Entries)
        {
            var found = LocalCandidates(d).FirstOrDefault();
            if (found.Path is null)
            {
                result.Add(new BackboneListing(d, null, null, true));
                continue;
            }
            var size = found.Location == BackboneLocation.NuGetPackage ? 0 : new FileInfo(found.Path).Length;
            result.Add(new BackboneListing(d, found.Path, found.Location, d.SizeBytes is null || d.SizeBytes == size));
        }
        return result;
    }

    /// <summary>
    /// Hashes every local file of every catalog entry (the cache and all offline folders) and compares it with
    /// its record. Never throws for a bad file: the outcome is in each <see cref="VerifyResult"/>.
    /// </summary>
    public IReadOnlyList<VerifyResult> Verify()
    {
        var results = new List<VerifyResult>();
        foreach (var d in Catalog.Entries)
        {
            if (d.Package is not null)
            {
                results.AddRange(VerifyPackage(d));
                continue;
            }
            foreach (var (path, location) in LocalCandidates(d))
            {
                long size = 0;
                try
                {
                    size = new FileInfo(path).Length;
                    var sha = BackboneFileVerifier.ComputeSha256(path);
                    var ok = BackboneFileVerifier.Matches(d, sha, size, out var problem);
                    var (status, message) = ok switch
                    {
                        true => (VerifyStatus.Ok, $"{d.Name}: {path} OK ({size:N0} bytes, SHA-256 {sha})"),
                        false => (VerifyStatus.Mismatch, $"{d.Name}: {path} MISMATCH: {problem}"),
                        null => (VerifyStatus.Unverified, $"{d.Name}: {path} has SHA-256 {sha}, but the record has no checksum"),
                    };
                    results.Add(new VerifyResult(d, path, location, status, sha, size, message));
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    results.Add(new VerifyResult(d, path, location, VerifyStatus.Unreadable, null, size,
                        $"{d.Name}: {path} could not be read: {ex.Message}"));
                }
            }
        }
        return results;
    }

    /// <summary>The cached combined graph against its recorded hash, and the installed package's files against the record.</summary>
    private IEnumerable<VerifyResult> VerifyPackage(BackboneDescription d)
    {
        var p = d.Package!;
        var combined = NuGetBackbonePackages.CombinedPath(CacheDir, d);
        if (File.Exists(combined))
        {
            var size = new FileInfo(combined).Length;
            var sha = BackboneFileVerifier.ComputeSha256(combined);
            var hashFile = NuGetBackbonePackages.HashPath(combined);
            var recorded = File.Exists(hashFile) ? File.ReadAllText(hashFile).Trim() : null;
            yield return recorded == sha
                ? new VerifyResult(d, combined, BackboneLocation.Cache, VerifyStatus.Ok, sha, size,
                    $"{d.Name}: {combined} OK (combined graph, {size:N0} bytes, SHA-256 {sha} as recorded when it was built)")
                : new VerifyResult(d, combined, BackboneLocation.Cache, VerifyStatus.Mismatch, sha, size,
                    $"{d.Name}: {combined} MISMATCH: SHA-256 {sha}, recorded {recorded ?? "nothing"}; the next run rebuilds it from the package");
        }
        var installed = _nuget.Value.FindInstalled(p);
        if (installed is null)
            yield break;
        foreach (var f in new[] { p.Preprocess, p.Model }.OfType<BackbonePackageFile>())
        {
            var file = Path.Combine(installed, f.Path.Replace('/', Path.DirectorySeparatorChar));
            if (!File.Exists(file))
            {
                yield return new VerifyResult(d, file, BackboneLocation.NuGetPackage, VerifyStatus.Unreadable, null, 0,
                    $"{d.Name}: {file} is missing from the installed package");
                continue;
            }
            var size = new FileInfo(file).Length;
            var sha = BackboneFileVerifier.ComputeSha256(file);
            yield return sha == f.Sha256 && size == f.SizeBytes
                ? new VerifyResult(d, file, BackboneLocation.NuGetPackage, VerifyStatus.Ok, sha, size, $"{d.Name}: {file} OK ({size:N0} bytes, SHA-256 {sha})")
                : new VerifyResult(d, file, BackboneLocation.NuGetPackage, VerifyStatus.Mismatch, sha, size,
                    $"{d.Name}: {file} MISMATCH: SHA-256 {sha} ({size:N0} bytes), expected {f.Sha256} ({f.SizeBytes:N0} bytes)");
        }
    }

    /// <summary>
    /// Whether <paramref name="nameOrPath"/> should be treated as a file path: it contains a directory separator
    /// or ends with <c>.onnx</c>.
    /// </summary>
    public static bool LooksLikePath(string nameOrPath) =>
        nameOrPath.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase)
        || nameOrPath.Contains(Path.DirectorySeparatorChar)
        || nameOrPath.Contains(Path.AltDirectorySeparatorChar);

    private static string ExpandHome(string path) =>
        path == "~" || path.StartsWith("~/", StringComparison.Ordinal)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), path.Length > 2 ? path[2..] : "")
            : path;

    /// <summary>The "custom" record for a user-supplied file: named after the file, all other fields default.</summary>
    public static BackboneDescription DescribeCustomFile(string path) => new()
    {
        Name = Path.GetFileNameWithoutExtension(path),
        Family = "custom",
        FileName = Path.GetFileName(path),
        Source = Path.GetFullPath(path),
    };

    private ResolvedBackbone ResolveExplicitFile(string path)
    {
        Log($"'{path}' is an existing file; using it directly");
        var sha = BackboneFileVerifier.ComputeSha256(path);
        // A combined NuGet graph has no fixed checksum in its record: it is known by its cache name and recorded hash.
        var combined = Catalog.Entries.FirstOrDefault(e => e.Package is not null
            && Path.GetFileName(NuGetBackbonePackages.CombinedPath(Path.GetDirectoryName(path)!, e)) == Path.GetFileName(path)
            && File.Exists(NuGetBackbonePackages.HashPath(path)) && File.ReadAllText(NuGetBackbonePackages.HashPath(path)).Trim() == sha);
        if (combined is not null)
        {
            Log($"{path} is the combined graph of catalog entry '{combined.Name}' (its SHA-256 matches the recorded one); using that record");
            return new ResolvedBackbone(combined, path, sha, BackboneLocation.ExplicitFile, $"{combined.Name}: explicit file {path} (the combined graph of its NuGet package)");
        }
        var known = Catalog.Entries.FirstOrDefault(e => string.Equals(e.Sha256, sha, StringComparison.OrdinalIgnoreCase));
        if (known is not null)
        {
            Log($"{path} has SHA-256 {sha}, the checksum of catalog entry '{known.Name}'; using that record");
            return new ResolvedBackbone(known, path, sha, BackboneLocation.ExplicitFile,
                $"{known.Name}: explicit file {path} (identified by its SHA-256)");
        }
        if (!path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
            Log($"{path} does not end with .onnx; trying it as an ONNX model anyway");
        var custom = DescribeCustomFile(path);
        Log($"{path} (SHA-256 {sha}) is not in the catalog; using a custom record '{custom.Name}' with default preprocessing");
        return new ResolvedBackbone(custom, path, sha, BackboneLocation.ExplicitFile,
            $"{custom.Name}: explicit file {path} (custom backbone, default preprocessing)");
    }

    private IEnumerable<(string Path, BackboneLocation Location)> LocalCandidates(BackboneDescription d)
    {
        if (d.Package is not null)
        {
            var combined = NuGetBackbonePackages.CombinedPath(CacheDir, d);
            if (File.Exists(combined)) yield return (combined, BackboneLocation.Cache);
            if (_nuget.Value.FindInstalled(d.Package) is { } installed) yield return (installed, BackboneLocation.NuGetPackage);
            yield break;
        }
        var cached = Path.Combine(CacheDir, d.FileName);
        if (File.Exists(cached)) yield return (cached, BackboneLocation.Cache);
        foreach (var dir in OfflineDirs)
        {
            var candidate = Path.Combine(dir, d.FileName);
            if (File.Exists(candidate)) yield return (candidate, BackboneLocation.Offline);
        }
    }

    private string SearchedPlaces(BackboneCatalog? catalog = null)
    {
        var dirs = OfflineDirs;
        var offline = dirs.Count == 0 ? "no offline folders" : "offline folders " + string.Join(", ", dirs);
        var nuget = catalog?.Entries.Any(e => e.Package is not null) == true ? $"; NuGet global packages folder {_nuget.Value.GlobalPackagesFolder}" : "";
        return $"cache {CacheDir}; {offline}{nuget}";
    }

    private static string VerifiedLine(BackboneDescription d, string sha) =>
        d.Sha256 is null ? $"'{d.Name}': no checksum in its record; SHA-256 is {sha} (not verified)" : $"'{d.Name}': SHA-256 verified ({sha})";

    private static string VerifiedSuffix(BackboneDescription d) => d.Sha256 is null ? " (no checksum to verify)" : ", SHA-256 verified";

    private static string HostOf(IReadOnlyList<string> urls) =>
        urls.Count > 0 && Uri.TryCreate(urls[0], UriKind.Absolute, out var u) ? u.Host : "its download URL";

    private void Log(string line) => Options.Log?.Invoke(line);

    /// <summary>Disposes the downloader's HttpClient if the store created one.</summary>
    public void Dispose()
    {
        if (_downloader.IsValueCreated) _downloader.Value.Dispose();
    }
}
