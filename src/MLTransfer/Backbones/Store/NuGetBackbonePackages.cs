using System.Security.Cryptography;
using MLTransfer.Backbones.Onnx;
using NuGet.Common;
using NuGet.Configuration;
using NuGet.Packaging;
using NuGet.Protocol;
using NuGet.Protocol.Core.Types;
using NuGet.Versioning;

namespace MLTransfer.Backbones.Store;

/// <summary>
/// The NuGet route of the backbone store: a backbone shipped in a NuGet package (<see cref="BackbonePackage"/>) is
/// read from the NuGet global packages folder or downloaded from the user's NuGet feeds, its files are checked
/// against the record's SHA-256 values, and its preprocessing and model graphs are combined into one ONNX file in
/// the backbone cache.
/// </summary>
/// <remarks>
/// NuGet.Configuration and NuGet.Protocol do what <c>dotnet restore</c> does: the global packages folder honours
/// <c>NUGET_PACKAGES</c> and <c>globalPackagesFolder</c> in NuGet.Config; feeds, their credentials and the proxy
/// (<c>http_proxy</c> in NuGet.Config or the environment) come from the NuGet.Config files that apply to the
/// settings folder (the current directory by default), so a machine that restores packages can fetch backbones.
/// The global packages folder is only read: a downloaded package is opened in a temporary file, never installed.
/// </remarks>
internal sealed class NuGetBackbonePackages
{
    /// <summary>Bumped whenever the combination changes its output, so old cached files are not reused.</summary>
    private const string CombinerVersion = "combiner-1";

    private readonly string _settingsRoot;
    private readonly string? _globalFolderOverride;
    private readonly Action<string> _log;
    private readonly Lazy<ISettings> _settings;

    public NuGetBackbonePackages(string? settingsRoot, string? globalPackagesFolder, Action<string> log)
    {
        _settingsRoot = Path.GetFullPath(settingsRoot ?? Environment.CurrentDirectory);
        _globalFolderOverride = globalPackagesFolder is null ? null : Path.GetFullPath(globalPackagesFolder);
        _log = log;
        _settings = new Lazy<ISettings>(LoadSettings);
    }

    /// <summary>The NuGet global packages folder (<c>NUGET_PACKAGES</c>, NuGet.Config, or <c>~/.nuget/packages</c>).</summary>
    public string GlobalPackagesFolder => _globalFolderOverride ?? Path.GetFullPath(SettingsUtility.GetGlobalPackagesFolder(_settings.Value));

    /// <summary>The enabled package sources of the user's NuGet.Config files, in order.</summary>
    public IReadOnlyList<PackageSource> Feeds => new PackageSourceProvider(_settings.Value).LoadPackageSources().Where(s => s.IsEnabled).ToList();

    /// <summary>Feeds as <c>name (url)</c>, for messages.</summary>
    public string DescribeFeeds()
    {
        var feeds = Feeds;
        return feeds.Count == 0 ? "no NuGet feed is configured" : string.Join(", ", feeds.Select(f => $"{f.Name} ({f.Source})"));
    }

    /// <summary>Where the combined graph of <paramref name="d"/> is cached: keyed by package version and both files' hashes.</summary>
    public static string CombinedPath(string cacheDir, BackboneDescription d)
    {
        var p = d.Package!;
        var key = Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(
            $"{p.Id.ToLowerInvariant()}\n{p.Version}\n{p.Model.Sha256}\n{p.Preprocess?.Sha256}\n{CombinerVersion}")))[..16];
        return Path.Combine(cacheDir, $"{Path.GetFileNameWithoutExtension(d.FileName)}-{p.Version}-{key}.onnx");
    }

    /// <summary>The sidecar holding the SHA-256 of a combined graph, written after it.</summary>
    public static string HashPath(string combinedPath) => combinedPath + ".sha256";

    /// <summary>The package's folder in the global packages folder, or null when it is not (completely) installed there.</summary>
    public string? FindInstalled(BackbonePackage p)
    {
        var resolver = new VersionFolderPathResolver(GlobalPackagesFolder);
        var version = NuGetVersion.Parse(p.Version);
        // NuGet writes the .nupkg.metadata marker last: without it the folder is a partial extraction.
        return File.Exists(resolver.GetNupkgMetadataPath(p.Id, version)) ? resolver.GetInstallPath(p.Id, version) : null;
    }

    /// <summary>
    /// The cached combined graph and its SHA-256 when the file matches its recorded hash; a damaged or unrecorded
    /// copy is deleted (it is rebuilt from the package) and null returned.
    /// </summary>
    public (string Path, string Sha256)? FindCached(string cacheDir, BackboneDescription d)
    {
        var path = CombinedPath(cacheDir, d);
        if (!File.Exists(path))
            return null;
        var recorded = File.Exists(HashPath(path)) ? File.ReadAllText(HashPath(path)).Trim() : null;
        var actual = BackboneFileVerifier.ComputeSha256(path);
        if (string.Equals(recorded, actual, StringComparison.Ordinal))
            return (path, actual);
        _log(recorded is null
            ? $"'{d.Name}': cached graph {path} has no recorded SHA-256 (an interrupted write); rebuilding it"
            : $"'{d.Name}': cached graph {path} has SHA-256 {actual}, but {recorded} was recorded when it was written; rebuilding it");
        TryDelete(path);
        TryDelete(HashPath(path));
        return null;
    }

    /// <summary>Reads and verifies the package's files from its installed folder, combines them and caches the result.</summary>
    /// <exception cref="BackboneIntegrityException">An installed file does not match the record.</exception>
    public (string Path, string Sha256, string Note) BuildFromInstalled(string cacheDir, BackboneDescription d, string installed)
    {
        var p = d.Package!;
        byte[] Read(BackbonePackageFile f)
        {
            var file = Path.Combine(installed, f.Path.Replace('/', Path.DirectorySeparatorChar));
            if (!File.Exists(file))
                throw new MLTransferException($"The NuGet package {p.Id} {p.Version} has no file {f.Path}", installed,
                    $"Delete {installed} and restore the package again (dotnet restore), or correct the path in the catalog record '{d.Name}'");
            var bytes = File.ReadAllBytes(file);
            Verify(d, f, bytes, file, fromFeed: null);
            return bytes;
        }
        return Build(cacheDir, d, Read(p.Model), p.Preprocess is null ? null : Read(p.Preprocess), $"the NuGet global packages folder ({installed})");
    }

    /// <summary>Downloads the package from the first feed that has it, verifies its files, combines them and caches the result.</summary>
    /// <returns>The combined file, its SHA-256, the feed it came from and what the combination did.</returns>
    /// <exception cref="BackboneIntegrityException">A file of the downloaded package does not match the record (nothing is cached).</exception>
    /// <exception cref="MLTransferException">No feed has the package, or every feed failed.</exception>
    public async Task<(string Path, string Sha256, PackageSource Feed, string Note)> DownloadAsync(string cacheDir, BackboneDescription d, CancellationToken ct)
    {
        var p = d.Package!;
        Directory.CreateDirectory(cacheDir);
        var version = NuGetVersion.Parse(p.Version);
        var partial = Path.Combine(cacheDir, $"{p.Id.ToLowerInvariant()}.{version.ToNormalizedString()}.nupkg.partial");
        var failures = new List<string>();
        var logger = new LogAdapter(_log);
        try
        {
            foreach (var feed in Feeds)
            {
                ct.ThrowIfCancellationRequested();
                _log($"'{d.Name}': looking for {p.Id} {p.Version} on NuGet feed {feed.Name} ({feed.Source})");
                try
                {
                    var finder = await Repository.Factory.GetCoreV3(feed).GetResourceAsync<FindPackageByIdResource>(ct).ConfigureAwait(false);
                    if (finder is null)
                    {
                        failures.Add($"{feed.Name} ({feed.Source}): not a feed NuGet can search by package id");
                        continue;
                    }
                    // DirectDownload: the package goes only to our temporary file, not into NuGet's HTTP cache.
                    using var cache = new SourceCacheContext { NoCache = true, DirectDownload = true };
                    bool found;
                    await using (var file = new FileStream(partial, FileMode.Create, FileAccess.Write, FileShare.None))
                        found = await finder.CopyNupkgToStreamAsync(p.Id, version, file, cache, logger, ct).ConfigureAwait(false);
                    if (!found)
                    {
                        failures.Add($"{feed.Name}: no {p.Id} {p.Version}");
                        continue;
                    }
                    _log($"'{d.Name}': downloaded {p.Id} {p.Version} from {feed.Name} ({new FileInfo(partial).Length:N0} bytes)");
                    var where = $"{p.Id} {p.Version} downloaded from {feed.Source}";
                    using var reader = new PackageArchiveReader(partial);
                    var model = ReadEntry(reader, d, p.Model, where, feed);
                    var preprocess = p.Preprocess is null ? null : ReadEntry(reader, d, p.Preprocess, where, feed);
                    var (path, sha, note) = Build(cacheDir, d, model, preprocess, $"the NuGet feed {feed.Name} ({feed.Source})");
                    return (path, sha, feed, note);
                }
                catch (Exception ex) when (ex is FatalProtocolException or HttpRequestException or IOException or InvalidDataException or TaskCanceledException && !ct.IsCancellationRequested)
                {
                    failures.Add($"{feed.Name} ({feed.Source}): {ex.Message}");
                    _log($"'{d.Name}': feed {feed.Name} failed: {ex.Message}");
                }
            }
        }
        finally
        {
            TryDelete(partial);
        }
        throw new MLTransferException(
            $"The NuGet package {p.Id} {p.Version} of backbone '{d.Name}' could not be downloaded: " +
            (failures.Count == 0 ? "no NuGet feed is configured" : string.Join("; ", failures)),
            string.Join(", ", _settings.Value.GetConfigFilePaths()),
            "Check the feeds, credentials and proxy in your NuGet.Config (the package is on nuget.org), or restore it into the " +
            $"global packages folder with 'dotnet restore' of a project that references it, then run again");
    }

    private byte[] ReadEntry(PackageArchiveReader reader, BackboneDescription d, BackbonePackageFile f, string where, PackageSource feed)
    {
        byte[] bytes;
        try
        {
            using var stream = reader.GetStream(f.Path);
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            bytes = buffer.ToArray();
        }
        catch (FileNotFoundException)
        {
            throw new MLTransferException($"The NuGet package {where} has no file {f.Path}", feed.Source,
                $"Check the catalog record '{d.Name}' (package id, version and file path)");
        }
        Verify(d, f, bytes, $"{f.Path} in {where}", feed);
        return bytes;
    }

    /// <summary>Refuses a package file whose size or SHA-256 differs from the record, naming both hashes.</summary>
    private static void Verify(BackboneDescription d, BackbonePackageFile f, byte[] bytes, string where, PackageSource? fromFeed)
    {
        var sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (sha == f.Sha256 && bytes.LongLength == f.SizeBytes)
            return;
        var problem = $"SHA-256 {sha}, expected {f.Sha256}" + (bytes.LongLength != f.SizeBytes ? $"; size {bytes.LongLength:N0} bytes, expected {f.SizeBytes:N0}" : "");
        var p = d.Package!;
        var fix = fromFeed is null
            ? $"The package in the global packages folder is damaged or altered: delete its folder and restore {p.Id} {p.Version} again (dotnet restore), then run again"
            : $"Nothing was cached. The feed {fromFeed.Name} serves a different {p.Id} {p.Version} (or a proxy altered it): check the feed, or correct the catalog record '{d.Name}'";
        throw new BackboneIntegrityException(d, where, sha, bytes.LongLength,
            $"Backbone '{d.Name}': {f.Path} of the NuGet package {p.Id} {p.Version} does not match its catalog record ({problem}); refusing to use it", fix);
    }

    /// <summary>Combines the verified files and writes the result atomically into the cache (file first, then its hash).</summary>
    private (string Path, string Sha256, string Note) Build(string cacheDir, BackboneDescription d, byte[] model, byte[]? preprocess, string from)
    {
        var p = d.Package!;
        var where = $"{p.Id} {p.Version}";
        var modelProto = OnnxModelIO.Parse(model, $"{p.Model.Path} in {where}");
        var description = $"{p.Title ?? d.Name} from the NuGet package {where}: " +
                          (preprocess is null ? Path.GetFileName(p.Model.Path) : $"{Path.GetFileName(p.Preprocess!.Path)} -> {Path.GetFileName(p.Model.Path)}") +
                          $" (SHA-256 {p.Model.Sha256}{(preprocess is null ? "" : $", {p.Preprocess!.Sha256}")})";
        string note;
        ModelProto combined;
        if (preprocess is null)
        {
            combined = modelProto;
            var input = FeatureTensorDetector.FindImageInput(new OnnxGraphIndex(combined.Graph), d.InputName, where);
            note = BatchDimension.TryFree(combined.Graph, input.Name) is { } pin ? $"the batch size stays fixed: {pin}" : "the batch dimension is dynamic";
            combined.MetadataProps.Add(new StringStringEntryProto { Key = OnnxGraphCombiner.MetadataKey, Value = $"{description}; {note}" });
        }
        else
        {
            var result = OnnxGraphCombiner.Combine(OnnxModelIO.Parse(preprocess, $"{p.Preprocess!.Path} in {where}"), modelProto, description, where);
            combined = result.Model;
            note = $"{Path.GetFileName(p.Preprocess!.Path)} joined in front of {Path.GetFileName(p.Model.Path)} (opset {result.Opset}" +
                   (result.RenamedNames.Count > 0 ? $", {result.RenamedNames.Count} name(s) renamed" : "") + $"); {result.BatchNote}";
        }
        var bytes = OnnxModelIO.Serialize(combined);
        var sha = Convert.ToHexStringLower(SHA256.HashData(bytes));
        var path = CombinedPath(cacheDir, d);
        try
        {
            Directory.CreateDirectory(cacheDir);
            WriteAtomically(path, bytes);
            WriteAtomically(HashPath(path), System.Text.Encoding.ASCII.GetBytes(sha + "\n"));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new MLTransferException($"The combined backbone graph could not be written to the cache: {ex.Message}", cacheDir,
                "Set XDG_CACHE_HOME (or the cache folder option) to a writable folder", ex);
        }
        _log($"'{d.Name}': files from {from} SHA-256 verified; {note}; written to {path} (SHA-256 {sha})");
        return (path, sha, note);
    }

    private static void WriteAtomically(string path, byte[] bytes)
    {
        var temp = $"{path}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                file.Write(bytes);
                file.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            TryDelete(temp);
        }
    }

    private ISettings LoadSettings()
    {
        try
        {
            return Settings.LoadDefaultSettings(_settingsRoot);
        }
        catch (NuGetConfigurationException ex)
        {
            throw new MLTransferException($"A NuGet.Config file could not be read: {ex.Message}", _settingsRoot,
                "Fix the NuGet.Config file named in the message", ex);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Passes NuGet's warnings and errors on to the store's log; its chatter stays out.</summary>
    private sealed class LogAdapter(Action<string> log) : LoggerBase
    {
        public override void Log(ILogMessage message)
        {
            if (message.Level >= LogLevel.Warning)
                log($"NuGet: {message.Message}");
        }

        public override Task LogAsync(ILogMessage message)
        {
            Log(message);
            return Task.CompletedTask;
        }
    }
}
