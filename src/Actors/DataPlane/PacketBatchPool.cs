namespace Fabric.Actors.DataPlane;

/// <summary>
/// A bounded pool of <see cref="PacketBatch"/>es, all allocated up front: the memory of a pipeline is fixed at
/// start. <see cref="TryRent"/> never waits; an empty pool means every batch is still owned downstream, and the
/// capture thread waits until one comes back (the packets wait in the kernel ring, or in the file). Rent and return
/// happen once per batch, never per packet.
/// </summary>
public sealed class PacketBatchPool
{
    private readonly PacketBatch[] _free;
    private readonly Lock _gate = new();
    private int _freeCount;

    /// <param name="batches">Batches the pool owns.</param>
    /// <param name="packetsPerBatch">Packets per batch.</param>
    /// <param name="bytesPerBatch">Buffer bytes per batch; 0: a pool of views, which borrow the buffers of other
    /// batches (<see cref="PacketBatch.Borrow"/>).</param>
    public PacketBatchPool(int batches, int packetsPerBatch, int bytesPerBatch)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batches, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(bytesPerBatch);
        Size = batches;
        _free = new PacketBatch[batches];
        for (int i = 0; i < batches; i++)
        {
            _free[i] = new PacketBatch(packetsPerBatch, bytesPerBatch, this);
        }

        _freeCount = batches;
    }

    /// <summary>Set whenever a batch comes back: the capture thread waits on it while the pool is empty.</summary>
    public RoomSignal Room { get; } = new();

    /// <summary>Number of batches the pool owns.</summary>
    public int Size { get; }

    /// <summary>Batches currently in the pool.</summary>
    public int Available
    {
        get
        {
            lock (_gate)
            {
                return _freeCount;
            }
        }
    }

    /// <summary>An empty batch, or null when all are in use.</summary>
    public PacketBatch? TryRent()
    {
        lock (_gate)
        {
            if (_freeCount == 0)
            {
                return null;
            }

            var batch = _free[--_freeCount];
            _free[_freeCount] = null!;
            return batch;
        }
    }

    internal void Return(PacketBatch batch)
    {
        batch.Reset();
        lock (_gate)
        {
            if (_freeCount == _free.Length)
            {
                throw new InvalidOperationException("PacketBatchPool received more batches than it owns.");
            }

            _free[_freeCount++] = batch;
        }

        Room.Set();
    }
}
