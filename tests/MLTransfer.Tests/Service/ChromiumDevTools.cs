using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using MLTransfer.Tests.Fixtures;

namespace MLTransfer.Tests.Service;

/// <summary>
/// Headless Debian Chromium driven over the Chrome DevTools protocol (a WebSocket), so a test can pick a
/// file in a page, wait for the result and take a screenshot, as a person would.
/// </summary>
public sealed class ChromiumDevTools : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _profile;
    private readonly ClientWebSocket _socket = new();
    private readonly ConcurrentDictionary<int, TaskCompletionSource<JsonElement>> _pending = new();
    private readonly CancellationTokenSource _stop = new();
    private Task _receiver = Task.CompletedTask;
    private int _nextId;

    private ChromiumDevTools(Process process, string profile)
    {
        _process = process;
        _profile = profile;
    }

    /// <summary>Starts Chromium on <paramref name="url"/> and attaches to its page.</summary>
    public static async Task<ChromiumDevTools> OpenAsync(Uri url, TimeSpan timeout)
    {
        var profile = Directory.CreateTempSubdirectory("mlt-cdp-").FullName;
        var start = new ProcessStartInfo(HeadlessChromium.Binary) { RedirectStandardOutput = true, RedirectStandardError = true };
        // The usual headless flags keep it off the network and out of the sandbox that root can't use.
        foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", $"--user-data-dir={profile}", "--remote-debugging-port=0", "--window-size=900,700", url.ToString() })
            start.ArgumentList.Add(a);
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var session = new ChromiumDevTools(process, profile);
        try
        {
            await session.AttachAsync(timeout);
            return session;
        }
        catch
        {
            await session.DisposeAsync();
            throw;
        }
    }

    private async Task AttachAsync(TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        // Chromium writes the port it chose to DevToolsActivePort in the profile folder.
        var portFile = Path.Combine(_profile, "DevToolsActivePort");
        int port;
        while (true)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"chromium exited with code {_process.ExitCode} before opening DevTools");
            if (File.Exists(portFile) && File.ReadAllLines(portFile) is [var first, ..] && int.TryParse(first, out port))
                break;
            if (clock.Elapsed > timeout)
                throw new TimeoutException("chromium did not open its DevTools port");
            await Task.Delay(100);
        }
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        string? wsUrl = null;
        while (wsUrl is null)
        {
            var targets = JsonNode.Parse(await http.GetStringAsync($"http://127.0.0.1:{port}/json/list"))!.AsArray();
            wsUrl = targets.FirstOrDefault(t => (string?)t!["type"] == "page")?["webSocketDebuggerUrl"]?.GetValue<string>();
            if (wsUrl is null)
            {
                if (clock.Elapsed > timeout)
                    throw new TimeoutException("chromium opened no page target");
                await Task.Delay(100);
            }
        }
        _socket.Options.KeepAliveInterval = TimeSpan.Zero;
        await _socket.ConnectAsync(new Uri(wsUrl), CancellationToken.None);
        _receiver = Task.Run(ReceiveLoop);
    }

    /// <summary>Sends one DevTools command and returns its <c>result</c>; a protocol error throws.</summary>
    public async Task<JsonElement> SendAsync(string method, object? parameters = null, TimeSpan? timeout = null)
    {
        var id = Interlocked.Increment(ref _nextId);
        var reply = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = reply;
        var message = JsonSerializer.SerializeToUtf8Bytes(new { id, method, @params = parameters ?? new { } });
        await _socket.SendAsync(message, WebSocketMessageType.Text, true, CancellationToken.None);
        return await reply.Task.WaitAsync(timeout ?? TimeSpan.FromSeconds(30));
    }

    /// <summary>Evaluates a JavaScript expression in the page and returns its value.</summary>
    public async Task<JsonElement> EvaluateAsync(string expression)
    {
        var result = await SendAsync("Runtime.evaluate", new { expression, returnByValue = true, awaitPromise = true });
        if (result.TryGetProperty("exceptionDetails", out var error))
            throw new InvalidOperationException($"page script failed: {error}");
        return result.GetProperty("result").TryGetProperty("value", out var value) ? value : default;
    }

    private async Task ReceiveLoop()
    {
        var buffer = new byte[1 << 16];
        using var message = new MemoryStream();
        try
        {
            while (!_stop.IsCancellationRequested && _socket.State == WebSocketState.Open)
            {
                var chunk = await _socket.ReceiveAsync(buffer, _stop.Token);
                if (chunk.MessageType == WebSocketMessageType.Close)
                    break;
                message.Write(buffer, 0, chunk.Count);
                if (!chunk.EndOfMessage)
                    continue;
                using var doc = JsonDocument.Parse(message.ToArray());
                message.SetLength(0);
                // Events have no id; only replies to our commands matter here.
                if (!doc.RootElement.TryGetProperty("id", out var idElement) || !_pending.TryRemove(idElement.GetInt32(), out var reply))
                    continue;
                if (doc.RootElement.TryGetProperty("error", out var error))
                    reply.TrySetException(new InvalidOperationException($"DevTools error: {error}"));
                else
                    reply.TrySetResult(doc.RootElement.GetProperty("result").Clone());
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException)
        {
        }
        foreach (var pending in _pending.Values)
            pending.TrySetException(new InvalidOperationException("DevTools connection closed"));
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_socket.State == WebSocketState.Open)
                await SendAsync("Browser.close", timeout: TimeSpan.FromSeconds(5));
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or WebSocketException)
        {
        }
        _stop.Cancel();
        await _receiver.ContinueWith(_ => { });
        _socket.Dispose();
        if (!_process.WaitForExit(10_000))
            _process.Kill(entireProcessTree: true);
        _process.Dispose();
        try { Directory.Delete(_profile, true); } catch (IOException) { }
    }
}
