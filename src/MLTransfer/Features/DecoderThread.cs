using System.Runtime.InteropServices;

namespace MLTransfer.Features;

/// <summary>
/// Lowers the scheduling priority of the calling thread (Linux nice value), so image decoders run in the
/// gaps ONNX Runtime leaves instead of preempting its worker threads.
/// </summary>
/// <remarks>
/// ONNX Runtime splits every operator across its threads and waits for the slowest: when a decoder takes a
/// core from one of them, the others sit idle at the barrier. With the decoders niced, the kernel gives
/// ONNX Runtime the cores whenever it can use them and the decoders the rest, which on a machine with few
/// cores is the difference between decoding overlapping inference and decoding slowing it down.
/// </remarks>
internal static class DecoderThread
{
    private const int PrioProcess = 0;

    // Classic DllImport: blittable int signatures need no marshalling code (and no unsafe build flag).
    [DllImport("libc", SetLastError = true)]
    private static extern int setpriority(int which, int who, int prio);

    [DllImport("libc")]
    private static extern int gettid();

    /// <summary>Sets the calling thread's nice value; does nothing off Linux, for 0, or when not permitted.</summary>
    public static void YieldToInference(int niceness)
    {
        if (niceness <= 0 || !OperatingSystem.IsLinux())
            return;
        try
        {
            // On Linux, PRIO_PROCESS with a thread id changes only that thread.
            setpriority(PrioProcess, gettid(), Math.Min(niceness, 19));
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
    }
}
