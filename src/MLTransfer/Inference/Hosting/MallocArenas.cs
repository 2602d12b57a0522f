using System.Runtime.InteropServices;

namespace MLTransfer.Inference.Hosting;

/// <summary>Caps glibc's number of malloc arenas for this process.</summary>
/// <remarks>
/// glibc gives threads that contend for malloc their own arena, up to 8 per core, and rarely returns
/// their memory; ONNX Runtime allocates natively on every thread that predicts, so a busy service grows
/// without bound (docs/design-notes.md). This is the runtime form of <c>MALLOC_ARENA_MAX=2</c>; it only
/// affects arenas created after the call, so call it first thing in the process.
/// </remarks>
internal static class MallocArenas
{
    private const int MArenaMax = -8; // M_ARENA_MAX in glibc's malloc.h

    /// <summary>Limits glibc to <paramref name="arenas"/> malloc arenas; does nothing off glibc/Linux.</summary>
    /// <returns>True when the limit was applied.</returns>
    public static bool Limit(int arenas = 2)
    {
        if (!OperatingSystem.IsLinux())
            return false;
        try
        {
            return mallopt(MArenaMax, arenas) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false; // musl and other C libraries have no mallopt
        }
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int mallopt(int param, int value);
}
