using System.Runtime.InteropServices;
using Akka.Event;
using Fabric.Actors.Native;

namespace Fabric.Actors.DataPlane;

/// <summary>
/// The nice value of a pipeline's data-plane threads (<c>fabric.pipelines[].nice</c>): the capture thread, the
/// decap stage and every sink apply it to their own thread with setpriority(PRIO_PROCESS, gettid(), nice) when
/// they start. .NET's <see cref="Thread.Priority"/> does nothing on Linux, so without this a data-plane thread
/// competes with every other runnable thread of the machine at equal weight, and a capture thread that waits for a
/// starved sink lets the kernel ring overflow (issue 16: the TAP writer spent 2.8 s in the run queue per second
/// it ran under two busy loops). A negative value needs CAP_SYS_NICE or an RLIMIT_NICE that allows it (the
/// unit's <c>LimitNICE=</c>); when the kernel refuses, the pipeline runs on at the thread's current nice and one
/// warning per pipeline says so. One instance is shared by all stages of a pipeline.
/// </summary>
public sealed class ThreadNice
{
    /// <summary>The default of <c>fabric.defaults.pipeline.nice</c>.</summary>
    public const int Default = -10;

    public const int Min = -20;

    public const int Max = 19;

    private int _warned;

    public ThreadNice(string pipeline, int value)
    {
        ArgumentException.ThrowIfNullOrEmpty(pipeline);
        ArgumentOutOfRangeException.ThrowIfLessThan(value, Min);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(value, Max);
        Pipeline = pipeline;
        Value = value;
    }

    public string Pipeline { get; }

    public int Value { get; }

    /// <summary>Sets the calling thread's nice to <see cref="Value"/>. False when the kernel refused (EPERM or
    /// EACCES: no CAP_SYS_NICE and RLIMIT_NICE too low); the first refusal of this pipeline is logged as a warning.</summary>
    public bool ApplyToCurrentThread(ILoggingAdapter log, string stage)
    {
        ArgumentNullException.ThrowIfNull(log);
        int tid = Libc.gettid();
        if (Libc.setpriority(Libc.PRIO_PROCESS, (uint)tid, Value) == 0)
        {
            return true;
        }

        int errno = Marshal.GetLastPInvokeError();
        if (Interlocked.Exchange(ref _warned, 1) == 0)
        {
            log.Warning("Pipeline {0}: cannot set nice {1} on its {2} thread ({3}); its data-plane threads run at their current nice. Grant CAP_SYS_NICE or LimitNICE={1}, or set fabric.pipelines[].nice = null",
                Pipeline, Value, stage, Libc.ErrorText(errno));
        }

        return false;
    }

    /// <summary>The calling thread's nice value (getpriority on its thread id).</summary>
    public static int OfCurrentThread()
    {
        Marshal.SetLastPInvokeError(0);
        int value = Libc.getpriority(Libc.PRIO_PROCESS, (uint)Libc.gettid());
        int errno = Marshal.GetLastPInvokeError();
        if (value == -1 && errno != 0)
        {
            throw new InvalidOperationException($"getpriority failed: {Libc.ErrorText(errno)}");
        }

        return value;
    }
}
