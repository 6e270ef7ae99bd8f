using Akka.TestKit.Xunit2;
using Fabric.Actors.DataPlane;
using Xunit;

namespace Fabric.Actors.Tests.DataPlane;

public class BatchQueueTests : TestKit
{
    [Fact]
    public void A_full_queue_refuses_without_blocking_and_completion_frees_a_slot()
    {
        var probe = CreateTestProbe();
        var queue = new BatchQueue(2) { Target = probe.Ref };
        var batch = PacketBatch.CreateUnpooled(1, 8);

        Assert.True(queue.TryPost(batch));
        Assert.True(queue.TryPost(batch));
        Assert.False(queue.TryPost(batch));
        Assert.Equal(2, queue.Pending);

        probe.ExpectMsg<PacketBatch>();
        queue.Completed();
        Assert.True(queue.TryPost(batch));
    }
}
