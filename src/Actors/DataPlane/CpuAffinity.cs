using System.Runtime.InteropServices;
using Fabric.Actors.Native;

namespace Fabric.Actors.DataPlane;

/// <summary>CPU pinning of data-plane threads with sched_setaffinity, and the kernel's CPU lists.</summary>
public static unsafe class CpuAffinity
{
    private const string CpuRoot = "/sys/devices/system/cpu";

    /// <summary>The CPUs the kernel has online (e.g. "0-3,6").</summary>
    public static IReadOnlySet<int> Online() => ReadList(Path.Combine(CpuRoot, "online"));

    /// <summary>The CPUs isolated from the scheduler (isolcpus=), often empty.</summary>
    public static IReadOnlySet<int> Isolated() => ReadList(Path.Combine(CpuRoot, "isolated"));

    public static bool Exists(int cpu) => cpu >= 0 && Online().Contains(cpu);

    /// <summary>Pins the calling OS thread to <paramref name="cpu"/>; returns its thread id (gettid).</summary>
    /// <summary>Pins the calling thread to <paramref name="cpu"/> when one is configured (a stage's <c>cpu</c>
    /// setting, run on a dedicated thread of the pinned dispatcher); does nothing for null.</summary>
    public static void PinCurrentThreadIfSet(int? cpu)
    {
        if (cpu is int value)
        {
            PinCurrentThread(value);
        }
    }

    public static int PinCurrentThread(int cpu)
    {
        if (!Exists(cpu))
        {
            throw new ArgumentOutOfRangeException(nameof(cpu), cpu, $"CPU {cpu} is not online on this machine.");
        }

        int tid = Libc.gettid();
        const int Words = 16; // 1024 CPUs
        ulong* mask = stackalloc ulong[Words];
        new Span<ulong>(mask, Words).Clear();
        mask[cpu / 64] = 1UL << (cpu % 64);
        if (Libc.sched_setaffinity(tid, Words * sizeof(ulong), mask) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new InvalidOperationException($"sched_setaffinity(tid {tid}, CPU {cpu}) failed: {Libc.ErrorText(errno)}");
        }

        return tid;
    }

    /// <summary>Parses a kernel CPU list such as "0-3,5,7-8" (empty: no CPUs).</summary>
    public static IReadOnlySet<int> ParseList(string text)
    {
        var cpus = new SortedSet<int>();
        foreach (var part in text.Trim().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int dash = part.IndexOf('-', StringComparison.Ordinal);
            if (dash < 0)
            {
                cpus.Add(int.Parse(part, System.Globalization.CultureInfo.InvariantCulture));
                continue;
            }

            int first = int.Parse(part.AsSpan(0, dash), System.Globalization.CultureInfo.InvariantCulture);
            int last = int.Parse(part.AsSpan(dash + 1), System.Globalization.CultureInfo.InvariantCulture);
            for (int cpu = first; cpu <= last; cpu++)
            {
                cpus.Add(cpu);
            }
        }

        return cpus;
    }

    private static IReadOnlySet<int> ReadList(string path) =>
        File.Exists(path) ? ParseList(File.ReadAllText(path)) : new SortedSet<int>();
}
