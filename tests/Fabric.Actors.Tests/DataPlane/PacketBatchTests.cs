using Fabric.Actors.DataPlane;
using Xunit;

namespace Fabric.Actors.Tests.DataPlane;

public class PacketBatchTests
{
    [Fact]
    public void Append_stores_bytes_lengths_and_timestamps_in_parallel_arrays()
    {
        var batch = PacketBatch.CreateUnpooled(4, 100);
        Assert.True(batch.TryAppend([1, 2, 3], 60, 1000));
        Assert.True(batch.TryAppend([4, 5], 2, 2000));

        Assert.Equal(2, batch.Count);
        Assert.Equal(new byte[] { 1, 2, 3 }, batch.Packet(0).ToArray());
        Assert.Equal(new byte[] { 4, 5 }, batch.Packet(1).ToArray());
        Assert.Equal(60, batch.OriginalLengths[0]);
        Assert.Equal(2000, batch.Timestamps[1]);
        Assert.Equal(5, batch.TotalBytes());
    }

    [Fact]
    public void Append_refuses_when_packets_or_bytes_run_out()
    {
        var byCount = PacketBatch.CreateUnpooled(1, 100);
        Assert.True(byCount.TryAppend([1], 1, 0));
        Assert.False(byCount.TryAppend([2], 1, 0));

        var byBytes = PacketBatch.CreateUnpooled(10, 4);
        Assert.True(byBytes.TryAppend([1, 2, 3], 3, 0));
        Assert.False(byBytes.TryAppend([4, 5], 2, 0));
        Assert.Equal(1, byBytes.Count);
    }

    [Fact]
    public void Compaction_moves_entries_without_copying_bytes()
    {
        var batch = PacketBatch.CreateUnpooled(4, 100);
        batch.TryAppend([1], 1, 1);
        batch.TryAppend([2], 1, 2);
        batch.TryAppend([3], 1, 3);

        batch.MoveEntry(2, 1);
        batch.Truncate(2);

        Assert.Equal(new byte[] { 3 }, batch.Packet(1).ToArray());
        Assert.Equal(3, batch.Timestamps[1]);
    }

    [Fact]
    public void Pool_is_bounded_and_a_batch_returns_after_the_last_release()
    {
        var pool = new PacketBatchPool(2, 8, 64);
        var a = pool.TryRent()!;
        var b = pool.TryRent()!;
        Assert.NotNull(a);
        Assert.NotNull(b);
        Assert.Null(pool.TryRent());

        a.TryAppend([9], 1, 0);
        a.SetReferences(3);
        a.Release();
        a.Release();
        Assert.Equal(0, pool.Available);
        a.Release();
        Assert.Equal(1, pool.Available);

        var again = pool.TryRent()!;
        Assert.Same(a, again);
        Assert.Equal(0, again.Count);
    }

    [Fact]
    public void Releasing_more_than_referenced_throws()
    {
        var pool = new PacketBatchPool(1, 8, 64);
        var a = pool.TryRent()!;
        a.SetReferences(1);
        a.Release();
        Assert.Throws<InvalidOperationException>(a.Release);
    }
}
