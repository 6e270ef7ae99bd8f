using Akka.Actor;
using Akka.Event;

namespace Fabric.Actors.DataPlane;

/// <summary>
/// The envelope of a data-plane stage that receives <see cref="PacketBatch"/>es through a <see cref="BatchQueue"/>
/// (the decap stage and every sink): it pins the stage's thread when a <c>cpu</c> is configured, counts each batch
/// in (<see cref="StageCounters.AddIn"/>) before <see cref="Process"/> sees it, and, whatever
/// <see cref="Process"/> does or throws, tells the queue the batch is <see cref="BatchQueue.Completed">completed</see>
/// and then releases it (unless the stage hands it on): the queue's slot is held until the stage is done with the
/// batch, and is freed before the batch goes back to the pool, so a producer woken by the returned batch finds
/// the slot free too (in the other order it rents the batch, fills it and is refused by a queue whose slot is
/// still held, and waits a second time for every batch). When the pipeline sets <c>nice</c>, the stage applies it
/// to its own thread (a stage with a nice or a cpu runs on a dedicated thread of the pinned dispatcher).
/// Any other message goes to <see cref="OnControl"/>.
/// </summary>
public abstract class BatchStageActor : UntypedActor
{
    private readonly BatchQueue _queue;
    private readonly int? _cpu;
    private readonly bool _handsOn;
    private readonly ThreadNice? _nice;

    /// <param name="queue">The hand-off this stage receives its batches through.</param>
    /// <param name="counters">The stage's counters.</param>
    /// <param name="cpu">CPU the stage's own thread is pinned to (it then runs on the pinned dispatcher); null: not pinned.</param>
    /// <param name="handsOn">True for a stage that passes each batch on to other stages, which release it (the
    /// decap stage's fan-out); false for a last stage (a sink), whose envelope releases it.</param>
    /// <param name="nice">The pipeline's <c>nice</c>, applied to the stage's own thread; null: left alone.</param>
    protected BatchStageActor(BatchQueue queue, StageCounters counters, int? cpu, bool handsOn = false, ThreadNice? nice = null)
    {
        _queue = queue;
        _nice = nice;
        Counters = counters;
        _cpu = cpu;
        _handsOn = handsOn;
    }

    /// <summary>The stage's counters: packets and bytes in (counted by the envelope), out, dropped by reason, events.</summary>
    protected StageCounters Counters { get; }

    protected override void PreStart()
    {
        CpuAffinity.PinCurrentThreadIfSet(_cpu);
        _nice?.ApplyToCurrentThread(Context.GetLogger(), Self.Path.Name);
    }

    protected sealed override void OnReceive(object message)
    {
        if (message is not PacketBatch batch)
        {
            OnControl(message);
            return;
        }

        try
        {
            int count = batch.Count;
            long bytes = batch.TotalBytes();
            Counters.AddIn(count, bytes);
            Process(batch, count, bytes);
        }
        finally
        {
            _queue.Completed();
            if (!_handsOn)
            {
                batch.Release();
            }
        }
    }

    /// <summary>The stage's work on one batch of <paramref name="count"/> packets and <paramref name="bytes"/>
    /// bytes (already counted in). Every packet is counted out or dropped under a named reason.</summary>
    protected abstract void Process(PacketBatch batch, int count, long bytes);

    /// <summary>Messages other than batches (timers, control); unhandled by default.</summary>
    protected virtual void OnControl(object message) => Unhandled(message);
}
