using System.Diagnostics.Metrics;

namespace MLTransfer.Inference.Hosting;

/// <summary>
/// The instruments of a served classifier, on the meter <see cref="ReloadingImageClassifier.MeterName"/>:
/// any host sees them with <c>dotnet-counters monitor --counters MLTransfer.Classifier</c>, and an
/// OpenTelemetry meter provider that adds the meter exports them.
/// </summary>
internal sealed class ClassifierMetrics : IDisposable
{
    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _predictions;
    private readonly Counter<long> _abstentions;
    private readonly Histogram<double> _duration;
    private readonly Counter<long> _decodeFailures;
    private readonly Counter<long> _budgetRefusals;
    private readonly Counter<long> _reloads;
    private readonly Counter<long> _failedReloads;

    /// <summary>Creates the instruments.</summary>
    /// <param name="factory">The host's meter factory (one meter per container, which tests rely on), or null for a meter of its own.</param>
    /// <param name="version">The version of the model serving now, or null when none does.</param>
    /// <param name="name">The classifier's name when an app serves several (a tag <c>mltransfer.model</c> on the meter), or null.</param>
    public ClassifierMetrics(IMeterFactory? factory, Func<string?> version, string? name = null)
    {
        // Named classifiers get a meter each (the factory shares a meter between equal names and tags), so two
        // models' predictions are never summed into one instrument.
        var options = new MeterOptions(ReloadingImageClassifier.MeterName) { Tags = name is null ? null : [new("mltransfer.model", name)] };
        _meter = factory?.Create(options) ?? new Meter(options);
        _ownsMeter = factory is null;
        _predictions = _meter.CreateCounter<long>("mltransfer.predictions", "{prediction}", "Images classified, tagged with the predicted class");
        _abstentions = _meter.CreateCounter<long>("mltransfer.abstentions", "{prediction}",
            "Predictions the model did not stand by, tagged with the reason (LowProbability, OutOfDomain) and the most probable class");
        _duration = _meter.CreateHistogram("mltransfer.prediction.duration", "ms", "Time to decode and classify one image",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [1, 2, 3, 4, 5, 7.5, 10, 15, 20, 30, 50, 75, 100, 150, 250, 500, 1000] });
        _decodeFailures = _meter.CreateCounter<long>("mltransfer.decode.failures", "{image}", "Images that could not be decoded (answered 400)");
        _budgetRefusals = _meter.CreateCounter<long>("mltransfer.decode.budget_refusals", "{image}", "Images refused because the decode budget was full (answered 503)");
        _reloads = _meter.CreateCounter<long>("mltransfer.model.reloads", "{reload}", "Changed model files loaded and swapped in");
        _failedReloads = _meter.CreateCounter<long>("mltransfer.model.failed_reloads", "{reload}", "Changed model files that could not be used (the old model kept serving)");
        _meter.CreateObservableGauge("mltransfer.model.version", () => version() is { } v ? [new Measurement<int>(1, new KeyValuePair<string, object?>("version", v))] : Array.Empty<Measurement<int>>(),
            "{model}", "1 for the model serving requests, tagged with its version");
    }

    public void Predicted(ImagePrediction prediction, TimeSpan elapsed)
    {
        _predictions.Add(1, new KeyValuePair<string, object?>("class", prediction.Label));
        if (!prediction.IsConfident)
            _abstentions.Add(1, new KeyValuePair<string, object?>("reason", prediction.Abstention.ToString()), new KeyValuePair<string, object?>("class", prediction.Label));
        _duration.Record(elapsed.TotalMilliseconds);
    }

    public void DecodeFailed() => _decodeFailures.Add(1);

    public void BudgetRefused() => _budgetRefusals.Add(1);

    public void Reloaded() => _reloads.Add(1);

    public void ReloadFailed() => _failedReloads.Add(1);

    public void Dispose()
    {
        if (_ownsMeter)
            _meter.Dispose();
    }
}
