namespace MLTransfer.Features;

/// <summary>
/// The bottleneck (feature) cache, as every front door configures it: where it lives, whether it is used,
/// and how long a run waits for another one that holds it. Features are keyed by image content, backbone
/// file and preprocessing, so a retrain with another head or seed never runs the backbone again.
/// </summary>
public sealed record FeatureCacheOptions
{
    /// <summary>Default <see cref="LockTimeout"/>: another run's extraction of a few thousand images finishes well within it.</summary>
    public static readonly TimeSpan DefaultLockTimeout = TimeSpan.FromMinutes(10);

    /// <summary>Folder of the cache files; null means the user cache folder (<c>~/.cache/mltransfer/workspace</c>).</summary>
    public string? WorkspacePath { get; init; }

    /// <summary>Whether cached features are reused and new ones stored (ML.NET Vision's <c>ReuseTrainSetBottleneckCachedValues</c>).</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>How long to wait for another run to release the cache; zero gives up at once.</summary>
    public TimeSpan LockTimeout { get; init; } = DefaultLockTimeout;

    /// <summary>The workspace folder actually used.</summary>
    public string ResolvedWorkspace => WorkspacePath ?? Path.Combine(UserFolders.Cache, "workspace");

    /// <summary>The first setting that cannot work, or null.</summary>
    internal string? Problem() =>
        LockTimeout < TimeSpan.Zero ? $"the feature cache's LockTimeout must not be negative, not {LockTimeout}"
        : Enabled && File.Exists(ResolvedWorkspace) ? $"the workspace path is a file, not a folder ({ResolvedWorkspace}); pass a folder, or turn the cache off"
        : null;
}
