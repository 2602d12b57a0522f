namespace MLTransfer.Features;

/// <summary>How <see cref="FeatureCache.Open"/> behaves when another run holds the cache, and where it reports.</summary>
internal sealed record FeatureCacheOpenOptions
{
    /// <summary>
    /// Default <see cref="LockTimeout"/>: long enough for another run's extraction of a few thousand images
    /// to finish (the cache is only held while features are extracted, not while the head trains).
    /// </summary>
    public static readonly TimeSpan DefaultLockTimeout = FeatureCacheOptions.DefaultLockTimeout;

    /// <summary>How long to wait for another run to release the cache before giving up; zero gives up at once.</summary>
    public TimeSpan LockTimeout { get; init; } = DefaultLockTimeout;

    /// <summary>How often the lock is tried again while waiting.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Receives a line when the open has to wait for another run, and when the wait ends. What the open
    /// found and repaired in the file is in <see cref="FeatureCache.OpenNotices"/>.
    /// </summary>
    public Action<string>? Log { get; init; }

    /// <summary>Stops waiting for the lock.</summary>
    public CancellationToken Cancellation { get; init; }

    /// <summary>Shared default instance.</summary>
    public static FeatureCacheOpenOptions Default { get; } = new();
}
