using Akka.Actor;

namespace Fabric.Actors.DataPlane;

/// <summary>
/// The bounded hand-off in front of one data-plane stage: at most <see cref="Capacity"/> batches sent to
/// <see cref="Target"/> and not yet completed by it. <see cref="TryPost"/> never blocks; when the stage is full it
/// returns false and the producer decides: the capture thread waits and tries again (the packets wait in the
/// kernel ring), the decap stage drops the batch for that sink as "queue-full" (a sink with
/// <c>when-full = wait</c>, and every stage of a file source, has a queue as deep as the batch pool, so it is
/// never refused). The stage calls <see cref="Completed"/> once for every batch it received, after it is done
/// with it (<see cref="BatchStageActor"/> does), so a slot stays taken while its batch is worked on; each
/// completion sets <see cref="Room"/>, which a producer waiting for a slot blocks on.
/// </summary>
public sealed class BatchQueue
{
    private int _pending;
    private IActorRef _target = ActorRefs.Nobody;

    public BatchQueue(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
    }

    public int Capacity { get; }

    /// <summary>Set whenever a slot is freed: a producer refused by <see cref="TryPost"/> waits on it.</summary>
    public RoomSignal Room { get; } = new();

    /// <summary>The stage. Set once, when the stage's actor is created (the stage is created with this queue, so
    /// the queue exists first); a second assignment throws.</summary>
    public IActorRef Target
    {
        get => _target;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            if (!ReferenceEquals(Interlocked.CompareExchange(ref _target, value, ActorRefs.Nobody), ActorRefs.Nobody))
            {
                throw new InvalidOperationException("BatchQueue.Target is already set.");
            }
        }
    }

    /// <summary>Batches posted and not yet completed.</summary>
    public int Pending => Volatile.Read(ref _pending);

    public bool TryPost(PacketBatch batch)
    {
        if (Interlocked.Increment(ref _pending) > Capacity)
        {
            Interlocked.Decrement(ref _pending);
            return false;
        }

        _target.Tell(batch, ActorRefs.NoSender);
        return true;
    }

    public void Completed()
    {
        Interlocked.Decrement(ref _pending);
        Room.Set();
    }
}
