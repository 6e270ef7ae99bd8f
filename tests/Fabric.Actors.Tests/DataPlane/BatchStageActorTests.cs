using Akka.Actor;
using Akka.TestKit.Xunit2;
using Fabric.Actors.DataPlane;
using Xunit;

namespace Fabric.Actors.Tests.DataPlane;

public sealed class BatchStageActorTests : TestKit
{
    [Fact]
    public void The_queue_slot_is_held_while_the_stage_works_and_freed_after_the_batch_is_released()
    {
        var pool = new PacketBatchPool(1, 4, 256);
        var queue = new BatchQueue(1);
        var counters = new StageCounters("test", ["queue-full"]);
        using var working = new ManualResetEventSlim();
        using var finish = new ManualResetEventSlim();
        queue.Target = Sys.ActorOf(Props.Create(() => new BlockingStage(queue, counters, working, finish, false)));
        var batch = pool.TryRent()!;
        Assert.True(batch.TryAppend(new byte[100], 100, 1));
        Assert.True(batch.TryAppend(new byte[20], 20, 2));
        batch.SetReferences(1);

        Assert.True(queue.TryPost(batch));
        Assert.True(working.Wait(TimeSpan.FromSeconds(5)));

        Assert.Equal(1, queue.Pending);
        Assert.Equal(0, pool.Available);
        Assert.Equal(new Count(2, 120), counters.Snapshot().In);
        finish.Set();
        AwaitCondition(() => queue.Pending == 0, TimeSpan.FromSeconds(5));
        Assert.Equal(1, pool.Available);
    }

    [Fact]
    public void A_stage_that_throws_still_releases_its_batch_and_completes()
    {
        var pool = new PacketBatchPool(1, 4, 256);
        var queue = new BatchQueue(1);
        var counters = new StageCounters("test", ["queue-full"]);
        using var working = new ManualResetEventSlim();
        using var finish = new ManualResetEventSlim(initialState: true);
        queue.Target = Sys.ActorOf(Props.Create(() => new BlockingStage(queue, counters, working, finish, true)));
        var batch = pool.TryRent()!;
        Assert.True(batch.TryAppend(new byte[10], 10, 1));
        batch.SetReferences(1);

        EventFilter.Exception<InvalidOperationException>().ExpectOne(() => Assert.True(queue.TryPost(batch)));

        AwaitCondition(() => queue.Pending == 0 && pool.Available == 1, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void A_queue_target_is_set_once()
    {
        var queue = new BatchQueue(1) { Target = TestActor };

        Assert.Throws<InvalidOperationException>(() => queue.Target = CreateTestProbe().Ref);
        Assert.Same(TestActor, queue.Target);
    }

    private sealed class BlockingStage(BatchQueue queue, StageCounters counters, ManualResetEventSlim working,
        ManualResetEventSlim finish, bool fail) : BatchStageActor(queue, counters, cpu: null)
    {
        protected override void Process(PacketBatch batch, int count, long bytes)
        {
            working.Set();
            finish.Wait(TimeSpan.FromSeconds(10));
            if (fail)
            {
                throw new InvalidOperationException("stage failed");
            }

            Counters.AddOut(count, bytes);
        }
    }
}
