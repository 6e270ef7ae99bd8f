using System.Runtime.InteropServices;
using Perfolizer.Horology;

namespace Fabric.Benchmarks.Decap;

/// <summary>
/// A BenchmarkDotNet clock that reads the benchmark thread's CPU time (Linux
/// CLOCK_THREAD_CPUTIME_ID) instead of the wall clock. On the shared build machine (load 15-20 on
/// 2 cores) wall-clock time mostly measures how long the thread waited for a core; CPU time
/// measures the work. Used by <see cref="CpuTimeConfig"/> with the in-process toolchain.
/// </summary>
public sealed partial class ThreadCpuClock : IClock
{
    private const int ClockThreadCpuTimeId = 3;

    public static readonly ThreadCpuClock Instance = new();

    public string Title => "Thread CPU time";

    public bool IsAvailable => OperatingSystem.IsLinux();

    public Frequency Frequency => Frequency.GHz;

    public long GetTimestamp()
    {
        _ = ClockGetTime(ClockThreadCpuTimeId, out var time);
        return (time.Seconds * 1_000_000_000L) + time.Nanoseconds;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clockId, out TimeSpec time);
}
