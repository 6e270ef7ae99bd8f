using Akka.Actor;

namespace Fabric.Actors.DataPlane;

/// <summary>
/// The bounded hand-off in front of one data-plane stage: at most <see cref="Capacity"/> batches sent to
/// <see cref="Target"/> and not yet completed by it. <see cref="TryPost"/> never blocks; when the stage is full it
/// returns false and the producer counts the batch as dropped ("queue-full"). The stage calls
/// <see cref="Completed"/> once for every batch it received, after it is done with it.
/// </summary>
public sealed class BatchQueue
{
    private int _pending;

    public BatchQueue(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
    }

    public int Capacity { get; }

    /// <summary>The stage; set once when it is created.</summary>
    public IActorRef Target { get; set; } = ActorRefs.Nobody;

    /// <summary>Batches posted and not yet completed.</summary>
    public int Pending => Volatile.Read(ref _pending);

    public bool TryPost(PacketBatch batch)
    {
        if (Interlocked.Increment(ref _pending) > Capacity)
        {
            Interlocked.Decrement(ref _pending);
            return false;
        }

        Target.Tell(batch, ActorRefs.NoSender);
        return true;
    }

    public void Completed() => Interlocked.Decrement(ref _pending);
}
