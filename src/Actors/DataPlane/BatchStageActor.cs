using Akka.Actor;

namespace Fabric.Actors.DataPlane;

/// <summary>
/// The envelope of a data-plane stage that receives <see cref="PacketBatch"/>es through a <see cref="BatchQueue"/>
/// (the decap stage and every sink): it pins the stage's thread when a <c>cpu</c> is configured, counts each batch
/// in (<see cref="StageCounters.AddIn"/>) before <see cref="Process"/> sees it, and, whatever
/// <see cref="Process"/> does or throws, releases the batch (unless the stage hands it on) and then tells the
/// queue the batch is <see cref="BatchQueue.Completed">completed</see>: the queue's slot is held until the
/// stage is done with the batch. Any other message goes to <see cref="OnControl"/>.
/// </summary>
public abstract class BatchStageActor : UntypedActor
{
    private readonly BatchQueue _queue;
    private readonly int? _cpu;
    private readonly bool _handsOn;

    /// <param name="queue">The hand-off this stage receives its batches through.</param>
    /// <param name="counters">The stage's counters.</param>
    /// <param name="cpu">CPU the stage's own thread is pinned to (it then runs on the pinned dispatcher); null: not pinned.</param>
    /// <param name="handsOn">True for a stage that passes each batch on to other stages, which release it (the
    /// decap stage's fan-out); false for a last stage (a sink), whose envelope releases it.</param>
    protected BatchStageActor(BatchQueue queue, StageCounters counters, int? cpu, bool handsOn = false)
    {
        _queue = queue;
        Counters = counters;
        _cpu = cpu;
        _handsOn = handsOn;
    }

    /// <summary>The stage's counters: packets and bytes in (counted by the envelope), out, dropped by reason, events.</summary>
    protected StageCounters Counters { get; }

    protected override void PreStart() => CpuAffinity.PinCurrentThreadIfSet(_cpu);

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
            if (!_handsOn)
            {
                batch.Release();
            }

            _queue.Completed();
        }
    }

    /// <summary>The stage's work on one batch of <paramref name="count"/> packets and <paramref name="bytes"/>
    /// bytes (already counted in). Every packet is counted out or dropped under a named reason.</summary>
    protected abstract void Process(PacketBatch batch, int count, long bytes);

    /// <summary>Messages other than batches (timers, control); unhandled by default.</summary>
    protected virtual void OnControl(object message) => Unhandled(message);
}
