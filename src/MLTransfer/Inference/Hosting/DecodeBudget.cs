using System.Globalization;

namespace MLTransfer.Inference.Hosting;

/// <summary>
/// A limit on the memory of images being decoded at once, shared by every request of a server. Each decode
/// reserves its estimated cost (<see cref="Images.ImageDecoder.EstimateDecodeBytes"/>, read from the image
/// header before any pixel is decoded) and is refused at once when the reservation does not fit, so a burst
/// of large images is answered "busy, retry" instead of growing the process until it is killed.
/// </summary>
/// <remarks>
/// An image that alone needs more than the whole budget is still decoded, but only while nothing else is:
/// the per-image limit is <see cref="Images.ImageDecodeOptions.MaxPixels"/>, this type only bounds how many
/// decodes overlap. Decoded memory in flight therefore stays under the larger of the capacity and the cost of
/// the largest image the pixel limit lets through.
/// </remarks>
public sealed class DecodeBudget
{
    /// <summary>
    /// 512 MiB: a full-size decode of the largest image the default pixel limit admits fits, and so do about a
    /// hundred ordinary photos at once (docs/design-notes.md).
    /// </summary>
    public const long DefaultCapacityBytes = 512L * 1024 * 1024;

    private readonly object _gate = new();
    private long _inUse;
    private long _peak;
    private int _refusals;

    /// <summary>Creates a budget of <paramref name="capacityBytes"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not positive.</exception>
    public DecodeBudget(long capacityBytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(capacityBytes);
        CapacityBytes = capacityBytes;
    }

    /// <summary>Bytes that may be reserved at once.</summary>
    public long CapacityBytes { get; }

    /// <summary>Bytes reserved now.</summary>
    public long InUseBytes { get { lock (_gate) return _inUse; } }

    /// <summary>The most bytes reserved at once since this budget was created.</summary>
    public long PeakBytes { get { lock (_gate) return _peak; } }

    /// <summary>How many reservations were refused.</summary>
    public int Refusals { get { lock (_gate) return _refusals; } }

    /// <summary>Reserves <paramref name="bytes"/> if they fit, or returns null (nothing is reserved).</summary>
    /// <returns>A reservation to dispose when the decode is done, or null when the budget is full.</returns>
    public IDisposable? TryReserve(long bytes)
    {
        // More than the whole budget counts as the whole budget: such an image runs alone rather than never.
        var cost = Math.Clamp(bytes, 0, CapacityBytes);
        lock (_gate)
        {
            if (cost > 0 && _inUse + cost > CapacityBytes)
            {
                _refusals++;
                return null;
            }
            _inUse += cost;
            _peak = Math.Max(_peak, _inUse);
        }
        return new Reservation(this, cost);
    }

    /// <summary>Reserves <paramref name="bytes"/> or throws.</summary>
    /// <exception cref="DecodeBudgetExceededException">The budget is full.</exception>
    public IDisposable Reserve(long bytes) =>
        TryReserve(bytes) ?? throw new DecodeBudgetExceededException(bytes, InUseBytes, CapacityBytes);

    private void Release(long cost)
    {
        lock (_gate)
            _inUse -= cost;
    }

    private sealed class Reservation(DecodeBudget budget, long cost) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
                budget.Release(cost);
        }
    }
}

/// <summary>
/// An image was not decoded because other decodes hold the <see cref="DecodeBudget"/>. Nothing is wrong with
/// the image: send it again after <see cref="RetryAfter"/> (a server answers 503 with Retry-After).
/// </summary>
public sealed class DecodeBudgetExceededException : MLTransferException
{
    /// <summary>Creates the error for one refused decode.</summary>
    public DecodeBudgetExceededException(long neededBytes, long inUseBytes, long capacityBytes)
        : base(string.Create(CultureInfo.InvariantCulture,
                $"Too many large images are being decoded at once: this one needs {Mib(neededBytes)} MiB, and {Mib(inUseBytes)} MiB of the {Mib(capacityBytes)} MiB decode budget are in use"),
            null, $"Send it again in {RetryAfterSeconds} s; a smaller picture (fewer pixels) needs less")
    {
        (NeededBytes, InUseBytes, CapacityBytes) = (neededBytes, inUseBytes, capacityBytes);
    }

    private const int RetryAfterSeconds = 1;

    /// <summary>Estimated decode cost of the refused image.</summary>
    public long NeededBytes { get; }

    /// <summary>Bytes reserved by other decodes when it was refused.</summary>
    public long InUseBytes { get; }

    /// <summary>The budget's capacity.</summary>
    public long CapacityBytes { get; }

    /// <summary>
    /// When to try again: about the time the largest decode takes (a 100-megapixel image decodes in about a
    /// second), so a retry usually finds its room.
    /// </summary>
    public TimeSpan RetryAfter => TimeSpan.FromSeconds(RetryAfterSeconds);

    private static string Mib(long bytes) => (bytes / (1024.0 * 1024)).ToString(bytes < 10 * 1024 * 1024 ? "F1" : "F0", CultureInfo.InvariantCulture);
}
