using System.Net;
using System.Net.Sockets;
using Akka.TestKit.Xunit2;
using Fabric.Actors.DataPlane;
using Fabric.Actors.Sinks;
using Xunit;

namespace Fabric.Actors.Tests.Sinks;

/// <summary>The forwarder towards a collector that is absent: a loopback UDP port nobody listens on.</summary>
public sealed class ForwarderSinkActorTests : TestKit
{
    [Fact]
    public void Sends_refused_by_an_absent_collector_are_counted_as_unreachable_and_the_sink_keeps_running()
    {
        int port;
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            port = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }

        var settings = new ForwardSinkSettings { Stage = "forward-0", Destination = new IPEndPoint(IPAddress.Loopback, port), Vni = 7 };
        var counters = new StageCounters(settings.Stage, ForwarderSinkActor.DropReasons, ForwarderSinkActor.EventNames);
        var queue = new BatchQueue(8);
        var sink = Sys.ActorOf(ForwarderSinkActor.Props(settings, queue, counters), "sink-0");
        queue.Target = sink;
        Watch(sink);

        // The kernel answers each datagram with ICMP port unreachable; the connected socket reports it as
        // ECONNREFUSED on a following send.
        for (int b = 0; b < 3; b++)
        {
            var batch = PacketBatch.CreateUnpooled(20, 64 * 1024);
            var frame = new byte[120];
            for (int i = 0; i < 20; i++)
            {
                Assert.True(batch.TryAppend(frame, frame.Length, i));
            }

            batch.SetReferences(1);
            Assert.True(queue.TryPost(batch));
        }

        AwaitAssert(() => Assert.Equal(0, queue.Pending), TimeSpan.FromSeconds(10));
        var stats = counters.Snapshot();
        Assert.Equal(60, stats.In.Packets);
        Assert.True(stats.Dropped["unreachable"].Packets > 0, "no unreachable drops");
        Assert.Equal(60, stats.Out.Packets + stats.Dropped["unreachable"].Packets);
        Assert.True(stats.Balanced);
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }
}
