using Akka.Actor;
using Fabric.Actors.DataPlane;

namespace Fabric.Actors.Sinks;

/// <summary>What the pipeline does when a sink is behind (its queue is full).</summary>
public enum SinkWhenFull
{
    /// <summary>Hold capture back: the sink's queue is as deep as the batch pool, so when it is behind the pool
    /// runs dry, the capture thread waits and packets wait in the kernel ring; only the ring's overflow drops
    /// (<c>kernelDropped</c>, as tcpdump's). Every other sink of the pipeline waits with it.</summary>
    Wait,

    /// <summary>This sink drops whole batches as <c>queue-full</c>; capture and the other sinks go on.</summary>
    Drop,
}

/// <summary>
/// One entry of a pipeline's <c>sinks</c> list. Each kind of sink describes itself: its counters' drop reasons and
/// event names, and the actor that runs it; the pipeline builds every sink the same way from these.
/// </summary>
public abstract record SinkSettings
{
    /// <summary>Drop reasons of this kind of sink, in index order; <c>queue-full</c> first (counted by the decap
    /// stage when this sink's queue refuses a batch).</summary>
    public abstract IReadOnlyList<string> DropReasons { get; }

    /// <summary>Event counters of this kind of sink (not drops), in index order.</summary>
    public abstract IReadOnlyList<string> EventNames { get; }

    /// <summary>Stage name in stats and metrics: <c>tap-mon0</c>, <c>pcap-1</c>, <c>forward-2</c>.</summary>
    public required string Stage { get; init; }

    /// <summary><c>when-full</c>; the reader's default is <see cref="SinkWhenFull.Wait"/> for a pipeline's only
    /// sink and <see cref="SinkWhenFull.Drop"/> when it has several (so one slow sink does not starve the others).</summary>
    public SinkWhenFull WhenFull { get; init; } = SinkWhenFull.Drop;

    /// <summary><c>cpu</c>: the sink runs on a thread of its own pinned to this CPU (sched_setaffinity); null: the
    /// shared dispatcher. For a sensor whose data plane has isolated cores: a TAP sink's write() per frame is the
    /// costliest step of a pipeline.</summary>
    public int? Cpu { get; init; }

    /// <summary>The pipeline's <c>nice</c> for this sink's thread (set by the pipeline reader on every sink and
    /// balance member); null: the thread's nice is left alone and, without a <see cref="Cpu"/>, the sink runs on
    /// the shared dispatcher.</summary>
    public ThreadNice? Nice { get; init; }

    /// <summary>Fresh counters for this sink: its stage name, drop reasons and event names.</summary>
    public virtual StageCounters NewCounters() => new(Stage, DropReasons, EventNames);

    /// <summary>The actor that runs this sink, fed through <paramref name="queue"/> and counting into
    /// <paramref name="counters"/> (made by <see cref="NewCounters"/>).</summary>
    public abstract Props CreateProps(BatchQueue queue, StageCounters counters);

    /// <summary>The actor that runs this sink and reports whether it can deliver into <paramref name="health"/>
    /// (a member of a balance sink). A kind that gives no signal ignores it: it is always up.</summary>
    public virtual Props CreateProps(BatchQueue queue, StageCounters counters, SinkHealth health) => CreateProps(queue, counters);
}
