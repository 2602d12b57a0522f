using System.Collections.Concurrent;
using System.Security.Cryptography;
using MLTransfer.Backbones;
using MLTransfer.Backbones.Catalog;
using MLTransfer.Backbones.Store;
using NUnit.Framework;

namespace MLTransfer.Tests.Backbones.Store;

/// <summary>Temp folders, generated "model" bytes and a loopback-only HttpClient for store tests.</summary>
public abstract class StoreTestBase
{
    protected const int DataSize = 3 * 1024 * 1024 + 123;

    protected static readonly byte[] Data = MakeData(DataSize, 1234);
    protected static readonly string DataSha = Convert.ToHexStringLower(SHA256.HashData(Data));

    protected string Root = null!;
    protected string CacheDir = null!;
    protected string OfflineDir = null!;
    protected ConcurrentQueue<string> LogLines = null!;
    private protected ConcurrentQueue<DownloadProgress> ProgressReports = null!;
    private HttpClient? _http;

    [SetUp]
    public void CreateFolders()
    {
        Root = Path.Combine(Path.GetTempPath(), "mltransfer-store-tests", Guid.NewGuid().ToString("N"));
        CacheDir = Path.Combine(Root, "cache");
        OfflineDir = Path.Combine(Root, "offline");
        Directory.CreateDirectory(OfflineDir);
        LogLines = new ConcurrentQueue<string>();
        ProgressReports = new ConcurrentQueue<DownloadProgress>();
    }

    [TearDown]
    public void DeleteFolders()
    {
        _http?.Dispose();
        _http = null;
        if (TestContext.CurrentContext.Result.Outcome.Status != NUnit.Framework.Interfaces.TestStatus.Passed)
        {
            foreach (var line in LogLines) TestContext.Out.WriteLine(line);
        }
        try { Directory.Delete(Root, recursive: true); } catch (IOException) { }
    }

    protected static byte[] MakeData(int size, int seed)
    {
        var bytes = new byte[size];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>HttpClient that never uses a proxy: the tests only talk to 127.0.0.1.</summary>
    protected HttpClient LoopbackClient() =>
        _http ??= new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = Timeout.InfiniteTimeSpan };

    protected static BackboneDescription Record(string name, string? url, string? sha = null, long? size = DataSize) => new()
    {
        Name = name,
        FileName = name + ".onnx",
        Urls = url is null ? [] : [url],
        Sha256 = sha ?? DataSha,
        SizeBytes = size,
        Source = "generated test bytes",
    };

    private protected BackboneStoreOptions Options(IReadOnlyList<string>? offline = null, int retries = 0, double timeoutSeconds = 5) => new()
    {
        CacheDir = CacheDir,
        OfflineDirs = offline ?? [],
        HttpClient = LoopbackClient(),
        MaxRetries = retries,
        RetryBaseDelay = TimeSpan.FromMilliseconds(50),
        RequestTimeout = TimeSpan.FromSeconds(timeoutSeconds),
        ReadInactivityTimeout = TimeSpan.FromSeconds(timeoutSeconds),
        Log = LogLines.Enqueue,
        Progress = new SyncProgress(ProgressReports.Enqueue),
        // An empty global packages folder, so the built-in NuGet backbone is never found on the machine by accident.
        NuGetGlobalPackagesFolder = Path.Combine(Root, "nuget-packages"),
    };

    private protected static BackboneStore Store(BackboneStoreOptions options, params BackboneDescription[] records) =>
        new(new BackboneCatalog(records), options);

    protected string[] CacheFiles() =>
        Directory.Exists(CacheDir) ? Directory.GetFiles(CacheDir) : [];

    private sealed class SyncProgress(Action<DownloadProgress> report) : IProgress<DownloadProgress>
    {
        public void Report(DownloadProgress value) => report(value);
    }
}
