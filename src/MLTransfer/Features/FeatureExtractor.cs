using System.Buffers;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Threading.Channels;
using MLTransfer.Backbones;
using MLTransfer.Data;
using MLTransfer.Images;

namespace MLTransfer.Features;

/// <summary>
/// Turns image files into backbone features: parallel decoding overlapped with batched ONNX Runtime
/// inference, reading and filling a <see cref="FeatureCache"/> when one is given.
/// </summary>
/// <remarks>
/// Images stream through a bounded channel, so memory stays flat however large the dataset: at most a
/// few batches of decoded pixels exist at any time, in pooled buffers (a fresh 600 kB array per image
/// would go to the large-object heap and force a full GC every few dozen images). Every finished batch
/// is written and flushed to the cache while the next one runs (one write in flight at most), which is
/// what makes an interrupted run resumable without the fsync stalling the backbone. Decoders run on
/// their own threads at a lower priority (<see cref="FeatureExtractionOptions.DecoderNiceness"/>), so on
/// a machine with few cores they fill the gaps ONNX Runtime leaves instead of stalling its threads.
/// </remarks>
public static class FeatureExtractor
{
    private sealed record Pending(string Path, string Hash, float[] Pixels);

    /// <summary>Extracts features for <paramref name="paths"/>.</summary>
    /// <param name="paths">Image files.</param>
    /// <param name="session">The backbone to run.</param>
    /// <param name="cache">Bottleneck cache to read and fill, or null.</param>
    /// <param name="options">Batch size, threads, limits and progress.</param>
    /// <param name="cancellation">Stops the run; finished batches stay cached.</param>
    /// <param name="view">
    /// Augmentation view per image content hash, or null for the images as they are. The cache is keyed by
    /// content hash only, so a view needs its own cache (one per view index, see <see cref="ImageAugmentation"/>).
    /// </param>
    /// <param name="decode">
    /// Decodes (path, file bytes) to the backbone's input size instead of <see cref="ImageDecoder"/>, for a
    /// model whose saved chain decodes differently; throws <see cref="ImageDecodeException"/> to skip a file.
    /// The cache must then be one keyed for those pixels. Not used for augmentation views.
    /// </param>
    public static FeatureExtractionResult Extract(IReadOnlyList<string> paths, BackboneSession session, FeatureCache? cache = null,
        FeatureExtractionOptions? options = null, CancellationToken cancellation = default, Func<string, ImageView>? view = null,
        Func<string, byte[], DecodedImage>? decode = null)
    {
        options ??= new FeatureExtractionOptions();
        var backbone = session.Backbone;
        var batchSize = Math.Max(1, options.BatchSize);
        var decoders = options.DecodeThreads > 0 ? options.DecodeThreads : Environment.ProcessorCount;
        var features = new Dictionary<string, float[]>(StringComparer.Ordinal);
        var hashes = new Dictionary<string, string>(StringComparer.Ordinal);
        var skipped = new List<SkippedFile>();
        int extracted = 0, fromCache = 0;
        var clock = Stopwatch.StartNew();
        var gate = new object();
        void Report()
        {
            options.Progress?.Report(new ExtractionProgress(features.Count + skipped.Count, paths.Count, fromCache, skipped.Count, clock.Elapsed));
        }

        var channel = Channel.CreateBounded<Pending>(new BoundedChannelOptions(2 * batchSize) { SingleReader = true });
        var bgr = backbone.Description.ChannelOrder == ChannelOrder.Bgr;
        // Dedicated decoder threads rather than the thread pool: they can be made to yield to ONNX Runtime
        // (see DecoderThread) without changing the priority of pool threads that outlive this call.
        var next = -1;
        var running = decoders;
        void DecodeLoop()
        {
            Exception? failure = null;
            try
            {
                DecoderThread.YieldToInference(options.DecoderNiceness);
                int index;
                while ((index = Interlocked.Increment(ref next)) < paths.Count)
                {
                    cancellation.ThrowIfCancellationRequested();
                    var item = Prepare(paths[index]);
                    if (item is not null)
                        channel.Writer.WriteAsync(item, cancellation).AsTask().GetAwaiter().GetResult();
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
                    channel.Writer.TryComplete(failure);
                else if (Interlocked.Decrement(ref running) == 0)
                    channel.Writer.TryComplete();
            }
        }

        Pending? Prepare(string path)
        {
            byte[] bytes;
            try
            {
                bytes = ImageDecoder.ReadFile(path, options.Decode);
            }
            catch (ImageDecodeException e)
            {
                lock (gate) skipped.Add(new SkippedFile(path, e.Reason));
                return null;
            }
            var hash = Convert.ToHexStringLower(SHA256.HashData(bytes));
            var cached = cache?.TryGet(hash);
            if (cached is not null)
            {
                lock (gate)
                {
                    features[path] = cached;
                    hashes[path] = hash;
                    fromCache++;
                }
                return null;
            }
            try
            {
                var image = DecodeForBackbone(backbone, bytes, path, hash, options, view, decode);
                var pixels = ArrayPool<float>.Shared.Rent(session.InputLength);
                image.WritePlanes(pixels.AsSpan(0, session.InputLength), bgr);
                return new Pending(path, hash, pixels);
            }
            catch (ImageDecodeException e)
            {
                lock (gate) skipped.Add(new SkippedFile(path, e.Reason));
                return null;
            }
        }

        var threads = Enumerable.Range(0, decoders).Select(k => new Thread(DecodeLoop) { IsBackground = true, Name = $"mltransfer-decode-{k}" }).ToList();
        threads.ForEach(t => t.Start());

        var batch = new List<Pending>(batchSize);
        var input = new float[batchSize * session.InputLength];
        var reader = channel.Reader;
        Task write = Task.CompletedTask;
        try
        {
            Consume();
        }
        catch
        {
            // Unblocks decoders waiting on a full channel, so they stop instead of hanging.
            channel.Writer.TryComplete();
            throw;
        }
        finally
        {
            // Whatever happened, the batches already run reach the disk before the cache is closed.
            write.GetAwaiter().GetResult();
        }
        threads.ForEach(t => t.Join());
        lock (gate) Report();
        skipped.Sort((a, b) => string.CompareOrdinal(a.Path, b.Path));
        return new FeatureExtractionResult(features, hashes, skipped, extracted, fromCache, clock.Elapsed);

        void Consume()
        {
            while (reader.WaitToReadAsync(cancellation).AsTask().GetAwaiter().GetResult())
            {
                batch.Clear();
                // Fill the batch, waiting for the decoders while they are still producing: a short batch is
                // only run at the very end.
                while (batch.Count < batchSize)
                {
                    if (reader.TryRead(out var item))
                        batch.Add(item);
                    else if (!reader.WaitToReadAsync(cancellation).AsTask().GetAwaiter().GetResult())
                        break;
                }
                for (var i = 0; i < batch.Count; i++)
                {
                    batch[i].Pixels.AsSpan(0, session.InputLength).CopyTo(input.AsSpan(i * session.InputLength));
                    ArrayPool<float>.Shared.Return(batch[i].Pixels);
                }
                var output = session.Run(input, batch.Count);
                if (cache is not null)
                {
                    var entries = batch.Select((p, i) => (p.Hash, output[i])).ToList();
                    // The previous write must land first: records stay in order and at most one batch is
                    // unflushed when the process dies.
                    write.GetAwaiter().GetResult();
                    write = Task.Run(() => cache.AddRange(entries));
                }
                lock (gate)
                {
                    for (var i = 0; i < batch.Count; i++)
                    {
                        features[batch[i].Path] = output[i];
                        hashes[batch[i].Path] = batch[i].Hash;
                    }
                    extracted += batch.Count;
                    Report();
                }
            }
        }
    }

    /// <summary>
    /// One image at the backbone's input size: through <paramref name="decode"/> when given (not for views),
    /// else through <see cref="ImageDecoder"/> with the view for <paramref name="hash"/>.
    /// </summary>
    internal static DecodedImage DecodeForBackbone(PreparedBackbone backbone, byte[] bytes, string name, string hash, FeatureExtractionOptions options,
        Func<string, ImageView>? view, Func<string, byte[], DecodedImage>? decode) =>
        decode is not null && view is null
            ? decode(name, bytes)
            : ImageDecoder.Decode(bytes, backbone.InputWidth, backbone.InputHeight, backbone.Description.ResizeMode, options.Decode, name, view?.Invoke(hash));
}
