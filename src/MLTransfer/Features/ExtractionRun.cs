using System.Buffers;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Threading.Channels;
using MLTransfer.Data;
using MLTransfer.Images;

namespace MLTransfer.Features;

/// <summary>
/// The state of one <c>FeatureExtractor.Extract</c> call: decoder threads feed a bounded channel,
/// one consumer batches its items through the backbone, and both record into the result arrays.
/// </summary>
/// <remarks>
/// Memory stays flat however large the dataset: at most a few batches of decoded pixels exist at any time,
/// in pooled buffers (a fresh 600 kB array per image would go to the large-object heap and force a full GC
/// every few dozen images). Every finished batch is written and flushed to the cache while the next one
/// runs (one write in flight at most), which makes an interrupted run resumable without the fsync stalling
/// the backbone. Decoders run on their own threads at a lower priority, so on a machine with few cores
/// they fill the gaps ONNX Runtime leaves instead of stalling its threads.
/// </remarks>
internal sealed class ExtractionRun
{
    private sealed record Pending(int Index, string Hash, float[] Pixels);

    private readonly IReadOnlyList<ImageSource> _sources;
    private readonly BackboneSession _session;
    private readonly FeatureCache? _cache;
    private readonly FeatureExtractionOptions _options;
    private readonly Func<ImageSource, byte[], string, DecodedImage> _decode;
    private readonly CancellationToken _cancellation;
    private readonly Channel<Pending> _channel;
    private readonly float[]?[] _features;
    private readonly SkippedFile?[] _skipped;
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private int _next = -1, _running, _done, _extracted, _fromCache, _skippedCount;

    public ExtractionRun(IReadOnlyList<ImageSource> sources, BackboneSession session, FeatureCache? cache, FeatureExtractionOptions options,
        Func<ImageSource, byte[], string, DecodedImage> decode, CancellationToken cancellation)
    {
        (_sources, _session, _cache, _options, _decode, _cancellation) = (sources, session, cache, options, decode, cancellation);
        _channel = Channel.CreateBounded<Pending>(new BoundedChannelOptions(2 * options.BatchSize) { SingleReader = true });
        _features = new float[]?[sources.Count];
        _skipped = new SkippedFile?[sources.Count];
    }

    public FeatureExtractionResult Run()
    {
        var decoders = _options.DecodeThreads > 0 ? _options.DecodeThreads : Environment.ProcessorCount;
        _running = decoders;
        // Dedicated threads rather than the thread pool: they can be made to yield to ONNX Runtime (see
        // DecoderThread) without changing the priority of pool threads that outlive this call.
        var threads = Enumerable.Range(0, decoders).Select(k => new Thread(DecodeLoop) { IsBackground = true, Name = $"mltransfer-decode-{k}" }).ToList();
        threads.ForEach(t => t.Start());
        Task write = Task.CompletedTask;
        try
        {
            Consume(ref write);
        }
        catch
        {
            // Unblocks decoders waiting on a full channel, so they stop instead of hanging.
            _channel.Writer.TryComplete();
            throw;
        }
        finally
        {
            // Whatever happened, the batches already run reach the disk before the cache is closed.
            write.GetAwaiter().GetResult();
        }
        threads.ForEach(t => t.Join());
        Report();
        return new FeatureExtractionResult(_sources, _features, _skipped.OfType<SkippedFile>().ToList(), _extracted, _fromCache, _clock.Elapsed);
    }

    private void DecodeLoop()
    {
        Exception? failure = null;
        try
        {
            DecoderThread.YieldToInference(_options.DecoderNiceness);
            int index;
            while ((index = Interlocked.Increment(ref _next)) < _sources.Count)
            {
                _cancellation.ThrowIfCancellationRequested();
                if (Prepare(index) is { } item)
                    _channel.Writer.WriteAsync(item, _cancellation).AsTask().GetAwaiter().GetResult();
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ChannelClosedException)
        {
            // The consumer stopped or the run was cancelled; the consumer reports it.
        }
        catch (Exception e)
        {
            failure = e;
        }
        finally
        {
            if (failure is not null)
                _channel.Writer.TryComplete(failure);
            else if (Interlocked.Decrement(ref _running) == 0)
                _channel.Writer.TryComplete();
        }
    }

    /// <summary>Reads, hashes, looks up and decodes one image: null when it is done (cached) or skipped.</summary>
    private Pending? Prepare(int index)
    {
        var source = _sources[index];
        // A known hash finds cached features without reading the file at all.
        if (source.ContentHash is { } known && _cache?.TryGet(known) is { } hit)
            return Cached(index, hit);
        try
        {
            var bytes = source.Bytes ?? ImageDecoder.ReadFile(source.Path!, _options.Decode);
            var hash = source.ContentHash ?? Convert.ToHexStringLower(SHA256.HashData(bytes));
            if (source.ContentHash is null && _cache?.TryGet(hash) is { } cached)
                return Cached(index, cached);
            var image = _decode(source, bytes, hash);
            var pixels = ArrayPool<float>.Shared.Rent(_session.InputLength);
            image.WritePlanes(pixels.AsSpan(0, _session.InputLength), _session.Backbone.ChannelOrder == Images.ChannelOrder.Bgr);
            return new Pending(index, hash, pixels);
        }
        catch (ImageDecodeException e)
        {
            _skipped[index] = new SkippedFile(source.Name, e.Reason);
            Interlocked.Increment(ref _skippedCount);
            Done(1);
            return null;
        }
    }

    private Pending? Cached(int index, float[] features)
    {
        _features[index] = features;
        Interlocked.Increment(ref _fromCache);
        Done(1);
        return null;
    }

    private void Consume(ref Task write)
    {
        var reader = _channel.Reader;
        var batch = new List<Pending>(_options.BatchSize);
        var input = new float[_options.BatchSize * _session.InputLength];
        while (reader.WaitToReadAsync(_cancellation).AsTask().GetAwaiter().GetResult())
        {
            batch.Clear();
            // Fill the batch, waiting for the decoders while they are still producing: a short batch is only
            // run at the very end.
            while (batch.Count < _options.BatchSize)
            {
                if (reader.TryRead(out var item))
                    batch.Add(item);
                else if (!reader.WaitToReadAsync(_cancellation).AsTask().GetAwaiter().GetResult())
                    break;
            }
            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].Pixels.AsSpan(0, _session.InputLength).CopyTo(input.AsSpan(i * _session.InputLength));
                ArrayPool<float>.Shared.Return(batch[i].Pixels);
            }
            var output = _session.Run(input, batch.Count);
            if (_cache is { } cache)
            {
                var entries = batch.Select((p, i) => (p.Hash, output[i])).ToList();
                // The previous write must land first: records stay in order and at most one batch is unflushed
                // when the process dies.
                write.GetAwaiter().GetResult();
                write = Task.Run(() => cache.AddRange(entries));
            }
            for (var i = 0; i < batch.Count; i++)
                _features[batch[i].Index] = output[i];
            _extracted += batch.Count;
            Done(batch.Count);
            // Only this thread reports, so an IProgress that is not thread-safe is safe here.
            Report();
        }
    }

    private void Done(int count) => Interlocked.Add(ref _done, count);

    private void Report() =>
        _options.Progress?.Report(new ExtractionProgress(Volatile.Read(ref _done), _sources.Count, Volatile.Read(ref _fromCache), Volatile.Read(ref _skippedCount), _clock.Elapsed));
}
