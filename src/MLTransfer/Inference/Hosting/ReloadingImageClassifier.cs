using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MLTransfer.Images;

namespace MLTransfer.Inference.Hosting;

/// <summary>
/// A thread-safe classifier for servers: many requests predict at once (in one ONNX Runtime session), and when the model zip changes on disk the new model is loaded in full, swapped in
/// atomically, and the old one is disposed only after the calls still using it have finished. A new file
/// that does not load, or loads but fails a test prediction, leaves the current model serving and is
/// reported through the logger and <see cref="LastReloadError"/>.
/// </summary>
/// <example>
/// <code>
/// using var classifier = new ReloadingImageClassifier(new ImageClassifierOptions { ModelPath = "model.zip" });
/// var answer = classifier.Predict(File.ReadAllBytes("rose.jpg"));
/// Console.WriteLine($"{answer.Prediction.Label} from model {answer.Model.Version}");
/// </code>
/// </example>
public sealed class ReloadingImageClassifier : IImageClassifier, IDisposable
{
    /// <summary>
    /// Name of the meter with the classifier's instruments (predictions by class, latency, decode failures and
    /// refusals, reloads, the serving model's version); see docs in the README's "Serve a model over HTTP".
    /// </summary>
    public const string MeterName = "MLTransfer.Classifier";

    private readonly ImageClassifierOptions _options;
    private readonly ILogger _log;
    private readonly string _path;
    private readonly object _reloadLock = new();
    private readonly FileSystemWatcher? _watcher;
    private readonly Timer? _debounce;
    private Lease _current;
    private int _disposed;
    private int _reloads;
    private int _failedReloads;
    private string? _lastError;

    /// <summary>
    /// Loads the model now and test-predicts with it (failing fast on a bad file) and, if asked, starts
    /// watching it.
    /// </summary>
    /// <exception cref="MLTransferException">The model file is missing, damaged, incompatible, or fails the test prediction.</exception>
    /// <param name="options">What to serve and the limits.</param>
    /// <param name="logger">Where loads and failed reloads are reported.</param>
    /// <param name="meterFactory">Creates the <see cref="MeterName"/> meter (a host's factory); null for a meter of its own.</param>
    public ReloadingImageClassifier(ImageClassifierOptions options, ILogger<ReloadingImageClassifier>? logger = null, IMeterFactory? meterFactory = null)
    {
        if (string.IsNullOrWhiteSpace(options.ModelPath))
            throw new MLTransferException("No model file was configured", null, "Set ImageClassifierOptions.ModelPath to a model zip written by 'mltransfer train'");
        _options = options;
        _log = logger ?? (ILogger)NullLogger.Instance;
        // One budget for the life of the server: calls on the old and the new model share it during a swap.
        DecodeBudget = options.DecodeBudgetBytes is { } budget ? new DecodeBudget(budget) : null;
        _path = Path.GetFullPath(options.ModelPath);
        _current = LoadLease(Sha256Of(_path)) ?? throw new MLTransferException("The model file changed while it was being loaded", _path, "Try again once it is written");
        Metrics = new ClassifierMetrics(meterFactory, () => IsDisposed ? null : Model.Version, options.Name);
        _log.LogInformation("Serving model {Version} from {Path}", _current.Model.Version, _path);

        if (options.ReloadOnChange)
        {
            _debounce = new Timer(_ => ReloadFromWatcher());
            _watcher = new FileSystemWatcher(Path.GetDirectoryName(_path)!, Path.GetFileName(_path))
            {
                NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.FileName | NotifyFilters.CreationTime,
            };
            _watcher.Changed += (_, _) => Poke();
            _watcher.Created += (_, _) => Poke();
            // Atomic writers (ModelPackage.Save, `mv`) rename a finished temporary file over the watched name.
            _watcher.Renamed += (_, e) => { if (string.Equals(e.FullPath, _path, StringComparison.Ordinal)) Poke(); };
            _watcher.Error += (_, e) => _log.LogWarning(e.GetException(), "File watcher error on {Path}; reloads may be missed", _path);
            _watcher.EnableRaisingEvents = true;
        }
    }

    /// <summary>The instruments predictions, refusals and reloads are counted on.</summary>
    internal ClassifierMetrics Metrics { get; }

    /// <summary>The limit on decoded pixels in flight, or null when there is none.</summary>
    public DecodeBudget? DecodeBudget { get; }

    /// <summary>True once <see cref="Dispose"/> has run: no model answers any more.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>The model answering new calls.</summary>
    public ServedModel Model => Volatile.Read(ref _current).Model;

    /// <summary>How many times a changed file was loaded and swapped in.</summary>
    public int Reloads => Volatile.Read(ref _reloads);

    /// <summary>
    /// Why the last reload attempt failed, or null when it succeeded, none failed yet, or the file is the
    /// served model again.
    /// </summary>
    public string? LastReloadError => Volatile.Read(ref _lastError);

    /// <summary>How many reload attempts failed (the file did not load or failed the test prediction).</summary>
    public int FailedReloads => Volatile.Read(ref _failedReloads);

    /// <summary>Raised after a new model has been swapped in.</summary>
    public event Action<ServedModel>? ModelChanged;

    /// <summary>Predicts the class of an encoded image with the current model.</summary>
    /// <param name="encodedImage">The image file's bytes.</param>
    /// <param name="topK">How many classes to list in <see cref="ImagePrediction.TopK"/>.</param>
    /// <param name="minConfidence">Abstain when the top probability is below this (see <see cref="ImageClassifier.Predict(byte[], int, float)"/>).</param>
    /// <exception cref="ImageDecodeException">The bytes are not a usable image.</exception>
    /// <exception cref="DecodeBudgetExceededException">Other decodes hold the memory this one needs; try again shortly.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="minConfidence"/> is outside [0, 1].</exception>
    public ServedPrediction Predict(byte[] encodedImage, int topK = 3, float minConfidence = 0) =>
        Use((classifier, model) => new ServedPrediction(Measured(() => classifier.Predict(encodedImage, topK, minConfidence)), model));

    /// <summary>What the model serving now is.</summary>
    public Export.ModelMetadata Metadata => Model.Metadata;

    /// <inheritdoc/>
    ImagePrediction IImageClassifier.Predict(byte[] encodedImage, int topK, float minConfidence) => Predict(encodedImage, topK, minConfidence).Prediction;

    /// <inheritdoc/>
    public ImagePrediction Predict(string imagePath, int topK = 3, float minConfidence = 0) =>
        Use((classifier, _) => Measured(() => classifier.Predict(imagePath, topK, minConfidence)));

    /// <inheritdoc/>
    /// <remarks>Every image of the batch is answered by the same model, even while a reload swaps in another.</remarks>
    public IReadOnlyList<BatchPrediction> PredictBatch(IReadOnlyList<byte[]> encodedImages, int topK = 3, float minConfidence = 0) => Use((classifier, _) =>
    {
        var start = Stopwatch.GetTimestamp();
        var results = classifier.PredictBatch(encodedImages, topK, minConfidence);
        var each = Stopwatch.GetElapsedTime(start) / Math.Max(1, results.Count);
        foreach (var r in results)
        {
            if (r.Prediction is { } p)
                Metrics.Predicted(p, each);
            else
                Metrics.DecodeFailed();
        }
        return results;
    });

    /// <summary>Runs one prediction and counts it: its class and time, or why it was refused.</summary>
    internal ImagePrediction Measured(Func<ImagePrediction> predict)
    {
        var start = Stopwatch.GetTimestamp();
        try
        {
            var prediction = predict();
            Metrics.Predicted(prediction, Stopwatch.GetElapsedTime(start));
            return prediction;
        }
        catch (ImageDecodeException)
        {
            Metrics.DecodeFailed();
            throw;
        }
        catch (DecodeBudgetExceededException)
        {
            Metrics.BudgetRefused();
            throw;
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> with the current model, which stays alive until it returns even if a
    /// reload swaps in another model meanwhile (so a batch is answered by one model throughout).
    /// </summary>
    public T Use<T>(Func<ImageClassifier, ServedModel, T> work)
    {
        var lease = Acquire();
        try
        {
            return work(lease.Classifier, lease.Model);
        }
        finally
        {
            lease.Release();
        }
    }

    /// <summary>
    /// Loads the file now if its content differs from the served model, checks that the new model answers a
    /// test image with one probability per class, and swaps it in. Returns true when a new model was swapped
    /// in; false when the file is unchanged, or did not load or failed the check: then the current model keeps
    /// serving and the reason is logged and kept in <see cref="LastReloadError"/>. Never throws.
    /// </summary>
    public bool Reload()
    {
        Lease fresh;
        lock (_reloadLock)
        {
            if (Volatile.Read(ref _disposed) != 0)
                return false;
            try
            {
                var sha = Sha256Of(_path);
                if (sha == Volatile.Read(ref _current).Model.Sha256)
                {
                    // The file is the served model again (a broken copy was replaced by the original): nothing is wrong any more.
                    if (Interlocked.Exchange(ref _lastError, null) is not null)
                        _log.LogInformation("Model file {Path} is the served model {Version} again", _path, Model.Version);
                    return false;
                }
                var loaded = LoadLease(sha);
                if (loaded is null)
                {
                    // Still being written: the writer's next change event brings us back.
                    _log.LogInformation("Model file {Path} changed during loading; waiting for it to settle", _path);
                    Poke();
                    return false;
                }
                fresh = loaded;
            }
            catch (Exception e)
            {
                // Whatever a broken file makes the loader throw (ML.NET and ONNX Runtime have many exception
                // types), the server goes on with the model it has.
                Volatile.Write(ref _lastError, e.Message);
                Interlocked.Increment(ref _failedReloads);
                Metrics.ReloadFailed();
                if (e is MLTransferException)
                    _log.LogError("The changed model file could not be used; still serving {Version}: {Reason}", Model.Version, e.Message);
                else
                    _log.LogError(e, "The changed model file {Path} could not be used; still serving {Version}", _path, Model.Version);
                return false;
            }
            // Status first, so whoever sees the new version also sees the counters that go with it.
            Interlocked.Increment(ref _reloads);
            Metrics.Reloaded();
            Volatile.Write(ref _lastError, null);
            var old = Interlocked.Exchange(ref _current, fresh);
            old.Release();
            _log.LogInformation("Reloaded model: {Old} -> {New}", old.Model.Version, fresh.Model.Version);
        }
        try
        {
            ModelChanged?.Invoke(fresh.Model);
        }
        catch (Exception e)
        {
            // A subscriber's failure is not the reload's: the new model is in and stays.
            _log.LogWarning(e, "A ModelChanged handler failed after model {Version} was swapped in", fresh.Model.Version);
        }
        return true;
    }

    private void Poke()
    {
        try { _debounce?.Change(_options.ReloadDebounce, Timeout.InfiniteTimeSpan); }
        catch (ObjectDisposedException) { }
    }

    private void ReloadFromWatcher()
    {
        try { Reload(); }
        catch (Exception e)
        {
            // A timer callback must not throw (it would end the process): anything Reload let through is
            // logged and the old model keeps serving.
            Volatile.Write(ref _lastError, e.Message);
            _log.LogError(e, "Unexpected error while reloading {Path}", _path);
        }
    }

    private Lease Acquire()
    {
        while (true)
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            var lease = Volatile.Read(ref _current);
            if (lease.TryAddRef())
                return lease;
            // That model was retired between the read and the add-ref; the next read sees its successor.
        }
    }

    /// <summary>
    /// Loads the file and test-predicts with it, or returns null if its content changed while loading (so the
    /// hash would lie).
    /// </summary>
    /// <exception cref="MLTransferException">The file does not load as a model, or the model fails the test prediction.</exception>
    private Lease? LoadLease(string expectedSha)
    {
        ImageClassifier classifier;
        try
        {
            classifier = ImageClassifier.Load(_path, _options.Decode, DecodeBudget, serving: true);
        }
        catch (Exception e) when (e is not MLTransferException)
        {
            throw new MLTransferException($"The model file could not be loaded: {e.GetType().Name}, {e.Message.TrimEnd('.')}", _path,
                "Check that it is a complete model zip written by 'mltransfer train' or 'mltransfer finetune'", e);
        }
        try
        {
            var after = Sha256Of(_path);
            if (after != expectedSha)
            {
                classifier.Dispose();
                return null;
            }
            var model = new ServedModel(ServedModel.VersionOf(after, classifier.Metadata), after, _path, DateTimeOffset.UtcNow, classifier.Metadata);
            return new Lease(classifier, model);
        }
        catch
        {
            classifier.Dispose();
            throw;
        }
    }

    private static string Sha256Of(string path)
    {
        if (!File.Exists(path))
            throw new MLTransferException("Model file not found", path, "Check the path, or train a model first with 'mltransfer train'");
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>Stops watching and disposes the model once calls in flight have finished.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        _watcher?.Dispose();
        lock (_reloadLock)
        {
            _debounce?.Dispose();
            Volatile.Read(ref _current).Release();
        }
        Metrics.Dispose();
    }

    /// <summary>
    /// A loaded model with a reference count: the server's own reference plus one per call in flight.
    /// The classifier is disposed when the count reaches zero, which frees ML.NET's temporary ONNX file.
    /// </summary>
    private sealed class Lease(ImageClassifier classifier, ServedModel model)
    {
        private int _refs = 1;

        public ImageClassifier Classifier { get; } = classifier;
        public ServedModel Model { get; } = model;

        public bool TryAddRef()
        {
            while (true)
            {
                var refs = Volatile.Read(ref _refs);
                if (refs == 0)
                    return false;
                if (Interlocked.CompareExchange(ref _refs, refs + 1, refs) == refs)
                    return true;
            }
        }

        public void Release()
        {
            if (Interlocked.Decrement(ref _refs) == 0)
                Classifier.Dispose();
        }
    }
}
