using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace MLTransfer.Tests.Backbones.Store;

/// <summary>
/// A real HTTP server on <c>http://127.0.0.1:&lt;free port&gt;/</c> (loopback only) for download tests.
/// Each request is handed to a handler together with its 0-based index; every request is recorded.
/// </summary>
internal sealed class LoopbackServer : IDisposable
{
    private readonly HttpListener _listener;
    private readonly Func<HttpListenerContext, int, CancellationToken, Task> _handler;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _count;

    public sealed record Request(int Index, string Method, string Path, string? Range);

    public ConcurrentQueue<Request> Requests { get; } = new();

    public string BaseUrl { get; }

    public int RequestCount => Volatile.Read(ref _count);

    public LoopbackServer(Func<HttpListenerContext, int, CancellationToken, Task> handler)
    {
        _handler = handler;
        HttpListenerException? last = null;
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var port = FreePort();
            var prefix = $"http://127.0.0.1:{port}/";
            var listener = new HttpListener();
            listener.Prefixes.Add(prefix);
            try
            {
                listener.Start();
                _listener = listener;
                BaseUrl = prefix;
                _loop = Task.Run(AcceptLoop);
                return;
            }
            catch (HttpListenerException ex)
            {
                last = ex;
                listener.Close();
            }
        }
        throw new InvalidOperationException("Could not start a loopback HTTP listener", last);
    }

    private static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    private async Task AcceptLoop()
    {
        while (!_stop.IsCancellationRequested)
        {
            HttpListenerContext ctx;
            try
            {
                ctx = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception) when (_stop.IsCancellationRequested || !_listener.IsListening)
            {
                return;
            }
            catch (HttpListenerException)
            {
                continue;
            }
            var index = Interlocked.Increment(ref _count) - 1;
            Requests.Enqueue(new Request(index, ctx.Request.HttpMethod, ctx.Request.Url!.AbsolutePath, ctx.Request.Headers["Range"]));
            _ = Task.Run(async () =>
            {
                try
                {
                    await _handler(ctx, index, _stop.Token).ConfigureAwait(false);
                }
                catch (Exception)
                {
                    try { ctx.Response.Abort(); } catch (Exception) { /* already gone */ }
                }
            });
        }
    }

    /// <summary>Sends <paramref name="data"/>, honouring a <c>Range: bytes=N-</c> header with 206.</summary>
    public static async Task ServeBytes(HttpListenerContext ctx, byte[] data, bool honourRange = true)
    {
        var response = ctx.Response;
        var range = ctx.Request.Headers["Range"];
        long start = 0;
        if (honourRange && range is not null && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-'))
        {
            start = long.Parse(range["bytes=".Length..^1]);
            if (start >= data.Length)
            {
                response.StatusCode = 416;
                response.Headers["Content-Range"] = $"bytes */{data.Length}";
                response.Close();
                return;
            }
            response.StatusCode = 206;
            response.Headers["Content-Range"] = $"bytes {start}-{data.Length - 1}/{data.Length}";
        }
        else
        {
            response.StatusCode = 200;
        }
        response.ContentType = "application/octet-stream";
        response.ContentLength64 = data.Length - start;
        await response.OutputStream.WriteAsync(data.AsMemory((int)start)).ConfigureAwait(false);
        response.Close();
    }

    public void Dispose()
    {
        _stop.Cancel();
        try { _listener.Stop(); } catch (ObjectDisposedException) { }
        try { _listener.Close(); } catch (ObjectDisposedException) { }
        try { _loop.Wait(TimeSpan.FromSeconds(2)); } catch (AggregateException) { }
        _stop.Dispose();
    }
}
