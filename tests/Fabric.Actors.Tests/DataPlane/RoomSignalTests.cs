using System.Diagnostics;
using Akka.TestKit.Xunit2;
using Fabric.Actors.DataPlane;
using Xunit;

namespace Fabric.Actors.Tests.DataPlane;

/// <summary>
/// The capture thread's wait for room (issue 16): it blocks on the event the consumer sets when it frees a
/// queue slot or returns a batch, instead of sleep-polling in 1 ms steps (a sleep costs a whole time slice on a
/// contended machine). Each test runs the producer's real loop with a wait timeout far longer than the test,
/// counts its steps, and checks it neither returns before room is made nor polls while it waits.
/// </summary>
public class RoomSignalTests : TestKit
{
    private const int LongWaitMs = 60_000; // longer than any test: a return means the event was set

    [Fact]
    public void A_producer_refused_by_a_full_queue_blocks_until_a_slot_is_freed_without_polling()
    {
        var probe = CreateTestProbe();
        var queue = new BatchQueue(1) { Target = probe.Ref };
        var batch = PacketBatch.CreateUnpooled(1, 8);
        Assert.True(queue.TryPost(batch));

        int steps = 0;
        var posted = new ManualResetEventSlim();
        var producer = new Thread(() =>
        {
            var spin = default(SpinWait);
            while (!queue.TryPost(batch))
            {
                steps++;
                queue.Room.WaitStep(ref spin, LongWaitMs);
            }

            posted.Set();
        });
        producer.Start();

        Assert.False(posted.Wait(500), "the producer posted into a full queue");
        int stepsWhileFull = Volatile.Read(ref steps);
        // A short spin (SpinWait's ~10 steps) and one reset, then one blocking wait: a 1 ms sleep loop would
        // have taken some 500 steps by now.
        Assert.InRange(stepsWhileFull, 1, 20);

        var freed = Stopwatch.StartNew();
        queue.Completed();
        Assert.True(posted.Wait(TimeSpan.FromSeconds(10)), "the producer did not wake when a slot was freed");
        Assert.True(freed.Elapsed < TimeSpan.FromSeconds(10));
        producer.Join();
        Assert.Equal(1, queue.Pending);
        Assert.InRange(steps, stepsWhileFull, stepsWhileFull + 2);
    }

    [Fact]
    public void A_producer_waiting_for_an_empty_pool_wakes_when_a_batch_comes_back()
    {
        var pool = new PacketBatchPool(1, 4, 65536);
        var held = pool.TryRent() ?? throw new InvalidOperationException("the pool is dry");
        held.SetReferences(1);

        int steps = 0;
        PacketBatch? rented = null;
        var done = new ManualResetEventSlim();
        var producer = new Thread(() =>
        {
            var spin = default(SpinWait);
            while ((rented = pool.TryRent()) is null)
            {
                steps++;
                pool.Room.WaitStep(ref spin, LongWaitMs);
            }

            done.Set();
        });
        producer.Start();

        Assert.False(done.Wait(500), "the producer rented from an empty pool");
        Assert.InRange(Volatile.Read(ref steps), 1, 20);

        held.Release(); // back to the pool: sets the pool's Room
        Assert.True(done.Wait(TimeSpan.FromSeconds(10)), "the producer did not wake when a batch came back");
        producer.Join();
        Assert.Same(held, rented);
    }

    [Fact]
    public void Room_made_between_the_reset_and_the_wait_is_not_missed()
    {
        var room = new RoomSignal();
        room.Set(); // an earlier completion
        var spin = default(SpinWait);
        while (!spin.NextSpinWillYield)
        {
            room.WaitStep(ref spin, LongWaitMs); // spins, returns at once
        }

        room.WaitStep(ref spin, LongWaitMs); // the event was set: resets it and returns, the caller retries
        Assert.False(room.IsSet);

        room.Set(); // a slot freed after the reset, before the caller's next step
        var watch = Stopwatch.StartNew();
        room.WaitStep(ref spin, LongWaitMs); // resets and returns at once
        Assert.False(room.IsSet);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10));
    }
}
