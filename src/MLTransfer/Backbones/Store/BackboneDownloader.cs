using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;

namespace MLTransfer.Backbones.Store;

/// <summary>
/// Downloads a backbone into the cache folder: <c>&lt;cache&gt;/&lt;file&gt;.partial</c> first, resumed with an
/// HTTP Range request after an interruption, verified (size and SHA-256) and only then atomically renamed to
/// <c>&lt;cache&gt;/&lt;file&gt;</c>. A file that fails verification is deleted, never cached.
/// </summary>
/// <remarks>
/// URLs are tried in order. Each one gets up to <see cref="BackboneStoreOptions.MaxRetries"/> retries with
/// exponential backoff on transient failures (I/O errors, connection failures, timeouts, HTTP 5xx/408/429).
/// Other HTTP errors (404 ...) move on to the next URL at once. A request times out when the response headers
/// take longer than <see cref="BackboneStoreOptions.RequestTimeout"/> or when no byte arrives for
/// <see cref="BackboneStoreOptions.ReadInactivityTimeout"/>. The HttpClient created here keeps the default proxy
/// (<c>HTTP_PROXY</c>, <c>HTTPS_PROXY</c>, <c>NO_PROXY</c> on Linux).
/// </remarks>
internal sealed class BackboneDownloader : IDisposable
{
    private readonly BackboneStoreOptions _options;
    private readonly HttpClient _http;
    private readonly bool _ownsHttp;

    /// <summary>Creates a downloader; uses <see cref="BackboneStoreOptions.HttpClient"/> when set.</summary>
    public BackboneDownloader(BackboneStoreOptions options)
    {
        _options = options;
        if (options.HttpClient is { } client)
        {
            _http = client;
        }
        else
        {
            _http = CreateHttpClient(options.RequestTimeout);
            _ownsHttp = true;
        }
    }

    /// <summary>
    /// An HttpClient suited to large downloads: proxy from the environment (the default), no overall timeout
    /// (the downloader applies its own header and inactivity timeouts), connect timeout = <paramref name="connectTimeout"/>.
    /// </summary>
    public static HttpClient CreateHttpClient(TimeSpan connectTimeout)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = connectTimeout,
            AutomaticDecompression = DecompressionMethods.None,
            AllowAutoRedirect = true,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        };
        var client = new HttpClient(handler, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };
        client.DefaultRequestHeaders.UserAgent.ParseAdd("MLTransfer/1.0");
        return client;
    }

    /// <summary>Path of the partial download of <paramref name="d"/> in <paramref name="cacheDir"/>.</summary>
    public static string PartialPath(string cacheDir, BackboneDescription d) =>
        Path.Combine(cacheDir, d.FileName + ".partial");

    /// <summary>
    /// Downloads <paramref name="d"/> into <see cref="BackboneStoreOptions.CacheDir"/>, verifies it and returns
    /// the final path and its SHA-256.
    /// </summary>
    /// <exception cref="BackboneIntegrityException">The downloaded file does not match the record (it was deleted).</exception>
    /// <exception cref="MLTransferException">No URL, or every URL failed.</exception>
    public async Task<(string Path, string Sha256)> DownloadAsync(BackboneDescription d, CancellationToken ct = default)
    {
        if (d.Urls.Count == 0)
        {
            throw new MLTransferException($"Backbone '{d.Name}' has no download URL", null,
                $"Copy {d.FileName} into an offline folder (BackboneSource.Dirs, CLI: --backbone-dir, or {BackboneStoreOptions.OfflineDirsEnvironmentVariable}) " +
                $"or into the cache folder {_options.CacheDir}.");
        }

        var cacheDir = Path.GetFullPath(_options.CacheDir);
        try
        {
            Directory.CreateDirectory(cacheDir);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new MLTransferException($"The backbone cache folder could not be created: {ex.Message}", cacheDir,
                "Set XDG_CACHE_HOME (or the cache folder option) to a writable folder.", ex);
        }

        var finalPath = Path.Combine(cacheDir, d.FileName);
        var partial = PartialPath(cacheDir, d);
        var failures = new List<string>();
        BackboneIntegrityException? integrity = null;

        foreach (var url in d.Urls)
        {
            // A resumed file that fails verification may hold bytes of an older version: one fresh try.
            for (var pass = 0; pass < 2; pass++)
            {
                var resumedOldBytes = File.Exists(partial) && new FileInfo(partial).Length > 0;
                try
                {
                    await DownloadFromUrlAsync(d, url, partial, ct).ConfigureAwait(false);
                }
                catch (DownloadFailedException f)
                {
                    failures.Add($"{url}: {f.Message}");
                    Log($"download of '{d.Name}' from {url} failed: {f.Message}");
                    if (f.DeletePartial) TryDelete(partial);
                    break;
                }

                var size = new FileInfo(partial).Length;
                var sha = await BackboneFileVerifier.ComputeSha256Async(partial, ct).ConfigureAwait(false);
                if (BackboneFileVerifier.Matches(d, sha, size, out var problem) == false)
                {
                    TryDelete(partial);
                    if (resumedOldBytes && pass == 0)
                    {
                        Log($"resumed download of '{d.Name}' does not verify ({problem}); deleted it, downloading again from the start");
                        continue;
                    }
                    Log($"download of '{d.Name}' from {url} does not verify ({problem}); deleted, not cached");
                    integrity = BackboneFileVerifier.Mismatch(d, url, sha, size, problem!, BackboneLocation.Downloaded);
                    break;
                }

                if (d.Sha256 is null)
                    Log($"'{d.Name}' has no SHA-256 in its catalog record; the download ({sha}) could not be verified");
                File.Move(partial, finalPath, overwrite: true);
                Log($"downloaded '{d.Name}' from {url} to {finalPath} ({size:N0} bytes, SHA-256 verified)");
                return (finalPath, sha);
            }
        }

        if (integrity is not null) throw integrity;
        throw new MLTransferException(
            $"Could not download backbone '{d.Name}': {string.Join("; ", failures)}",
            cacheDir,
            "Check the network connection and proxy settings (HTTPS_PROXY), then try again: a partial download is kept " +
            $"and resumed. Or fetch {d.FileName} yourself and put it in an offline folder (BackboneSource.Dirs, CLI: --backbone-dir).");
    }

    private async Task DownloadFromUrlAsync(BackboneDescription d, string url, string partial, CancellationToken ct)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await AttemptAsync(d, url, partial, ct).ConfigureAwait(false);
                return;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                throw;
            }
            catch (DownloadFailedException)
            {
                throw;
            }
            catch (Exception ex) when (IsTransient(ex))
            {
                var reason = Describe(ex);
                if (attempt >= _options.MaxRetries)
                {
                    var tries = attempt + 1;
                    throw new DownloadFailedException($"{reason} (gave up after {tries} attempt{(tries == 1 ? "" : "s")})", false);
                }
                var delay = RetryDelay(attempt);
                Log($"download of '{d.Name}' from {url}: attempt {attempt + 1} failed ({reason}); retrying in {delay.TotalSeconds:0.##} s");
                await Task.Delay(delay, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpRequestException)
            {
                throw new DownloadFailedException(Describe(ex), false);
            }
        }
    }

    private TimeSpan RetryDelay(int attempt)
    {
        var ms = _options.RetryBaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 20));
        return TimeSpan.FromMilliseconds(Math.Min(ms, _options.RetryMaxDelay.TotalMilliseconds));
    }

    private async Task AttemptAsync(BackboneDescription d, string url, string partial, CancellationToken ct)
    {
        long existing = File.Exists(partial) ? new FileInfo(partial).Length : 0;
        if (d.SizeBytes is long expected)
        {
            if (existing > expected)
            {
                Log($"partial file {partial} is larger than '{d.Name}' ({existing:N0} > {expected:N0} bytes); starting again");
                TryDelete(partial);
                existing = 0;
            }
            else if (existing == expected)
            {
                Log($"partial file {partial} already has all {expected:N0} bytes; verifying it");
                return;
            }
        }

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
        cts.CancelAfter(_options.RequestTimeout);
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (existing > 0)
        {
            request.Headers.Range = new RangeHeaderValue(existing, null);
            Log($"resuming download of '{d.Name}' from byte {existing:N0} ({url})");
        }
        else
        {
            Log($"downloading '{d.Name}' from {url}");
        }

        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new TimeoutException($"no response within {_options.RequestTimeout.TotalSeconds:0.##} s");
        }

        using (response)
        {
            long offset;
            long? total;
            var status = response.StatusCode;
            if (status == HttpStatusCode.PartialContent)
            {
                var range = response.Content.Headers.ContentRange;
                if (range?.From is not long from || from != existing)
                {
                    TryDelete(partial);
                    throw new IOException($"the server answered the Range request for byte {existing} with range '{range}'; starting again");
                }
                offset = existing;
                total = range.Length ?? (response.Content.Headers.ContentLength is long cl ? existing + cl : null);
            }
            else if (status == HttpStatusCode.OK)
            {
                if (existing > 0) Log($"the server ignored the Range request (HTTP 200); downloading '{d.Name}' from the start");
                offset = 0;
                total = response.Content.Headers.ContentLength;
            }
            else if (status == HttpStatusCode.RequestedRangeNotSatisfiable)
            {
                TryDelete(partial);
                throw new IOException("HTTP 416 Range Not Satisfiable for the partial file; starting again");
            }
            else
            {
                var text = $"HTTP {(int)status} {response.ReasonPhrase}";
                if (IsTransientStatus(status)) throw new HttpRequestException(text, null, status);
                throw new DownloadFailedException(text, false);
            }

            if (d.SizeBytes is long exp && total is long t && t != exp)
            {
                throw new DownloadFailedException(
                    $"the server reports {t:N0} bytes but the catalog record expects {exp:N0}; not downloading a different file",
                    DeletePartial: offset > 0);
            }

            var stopwatch = Stopwatch.StartNew();
            var received = offset;
            var lastReport = TimeSpan.Zero;
            await using (var file = new FileStream(partial, offset == 0 ? FileMode.Create : FileMode.Append,
                             FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                Stream body;
                try
                {
                    body = await response.Content.ReadAsStreamAsync(cts.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    throw new TimeoutException($"no response body within {_options.RequestTimeout.TotalSeconds:0.##} s");
                }

                await using (body)
                {
                    var buffer = new byte[1 << 16];
                    while (true)
                    {
                        cts.CancelAfter(_options.ReadInactivityTimeout);
                        int n;
                        try
                        {
                            n = await body.ReadAsync(buffer, cts.Token).ConfigureAwait(false);
                        }
                        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                        {
                            throw new TimeoutException(
                                $"no data for {_options.ReadInactivityTimeout.TotalSeconds:0.##} s after {received:N0} bytes");
                        }
                        if (n == 0) break;
                        await file.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
                        received += n;
                        if (d.SizeBytes is long max && received > max)
                            throw new DownloadFailedException(
                                $"the server sent more than the {max:N0} bytes the catalog record expects", DeletePartial: true);
                        if (stopwatch.Elapsed - lastReport >= TimeSpan.FromMilliseconds(100))
                        {
                            lastReport = stopwatch.Elapsed;
                            Report(d, url, received, total ?? d.SizeBytes, received - offset, stopwatch.Elapsed, false);
                        }
                    }
                }
                await file.FlushAsync(ct).ConfigureAwait(false);
            }

            if (total is long expectedTotal && received < expectedTotal)
                throw new IOException($"the connection closed after {received:N0} of {expectedTotal:N0} bytes");
            Report(d, url, received, total ?? d.SizeBytes, received - offset, stopwatch.Elapsed, true);
        }
    }

    private void Report(BackboneDescription d, string url, long received, long? total, long thisRequest, TimeSpan elapsed, bool completed)
    {
        if (_options.Progress is null) return;
        var rate = elapsed.TotalSeconds > 0 ? thisRequest / elapsed.TotalSeconds : 0;
        _options.Progress.Report(new DownloadProgress(d.Name, url, received, total, rate, completed));
    }

    private static bool IsTransientStatus(HttpStatusCode status) =>
        (int)status >= 500 || status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests;

    private static bool IsTransient(Exception ex) => ex switch
    {
        TimeoutException => true,
        IOException => true, // includes HttpIOException (connection cut mid-body)
        HttpRequestException h when h.StatusCode is { } s => IsTransientStatus(s),
        HttpRequestException h => h.HttpRequestError != HttpRequestError.NameResolutionError,
        _ => false,
    };

    private static string Describe(Exception ex) => ex switch
    {
        HttpRequestException { InnerException: { } inner } h when h.StatusCode is null => $"{h.Message} ({inner.Message})",
        _ => ex.Message,
    };

    private void Log(string line) => _options.Log?.Invoke(line);

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

    /// <summary>Disposes the HttpClient if this downloader created it.</summary>
    public void Dispose()
    {
        if (_ownsHttp) _http.Dispose();
    }

    private sealed class DownloadFailedException(string message, bool DeletePartial) : Exception(message)
    {
        public bool DeletePartial { get; } = DeletePartial;
    }
}
