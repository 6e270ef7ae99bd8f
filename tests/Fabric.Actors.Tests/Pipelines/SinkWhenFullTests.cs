using System.Net;
using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Fabric.Configuration;
using Fabric.Actors.DataPlane;
using Fabric.Actors.Decap;
using Fabric.Actors.Pipelines;
using Fabric.Actors.Sinks;
using Fabric.Protocols.Encap;
using Xunit;

namespace Fabric.Actors.Tests.Pipelines;

/// <summary>
/// <c>when-full</c> at work between a real decap stage and sinks that are probes: a stalled sink that waits
/// takes every batch of the pool and is never refused one (so the capture thread finds the pool dry and waits,
/// packets staying in the kernel ring); a stalled sink that drops loses whole batches as <c>queue-full</c>
/// once its queue-depth is reached, while the other sink gets everything.
/// </summary>
public sealed class SinkWhenFullTests : TestKit
{
    private static readonly byte[] Frame = VxlanFrame();

    [Fact]
    public void A_pipelines_only_sink_waits_by_default_and_holds_the_pool_instead_of_dropping()
    {
        var settings = Read("sinks = [ { type = tap, device = t0 } ]");
        Assert.Equal(SinkWhenFull.Wait, settings.Sinks[0].WhenFull);
        var runtime = new PipelineRuntime(settings);
        Assert.Equal(settings.Batches, runtime.Sinks[0].Queue.Capacity);
        var stalled = CreateTestProbe();
        runtime.Sinks[0].Queue.Target = stalled;
        StartDecap(settings, runtime);

        for (int b = 0; b < settings.Batches; b++)
        {
            PostOneFrame(runtime);
            stalled.ExpectMsg<PacketBatch>(TimeSpan.FromSeconds(5));
        }

        Assert.Equal(0, runtime.Pool.Available);
        Assert.Null(runtime.Pool.TryRent());
        var sink = runtime.Sinks[0].Counters.Snapshot();
        Assert.Equal(0, sink.DroppedPackets);
        Assert.Equal(settings.Batches, runtime.Sinks[0].Queue.Pending);
    }

    [Fact]
    public void With_two_sinks_a_stalled_one_drops_queue_full_and_the_other_gets_everything()
    {
        var settings = Read("sinks = [ { type = tap, device = t0 }, { type = tap, device = t1 } ]");
        Assert.All(settings.Sinks, s => Assert.Equal(SinkWhenFull.Drop, s.WhenFull));
        var runtime = new PipelineRuntime(settings);
        Assert.Equal(settings.QueueDepth, runtime.Sinks[0].Queue.Capacity);
        var stalled = CreateTestProbe();
        var working = CreateTestProbe();
        runtime.Sinks[0].Queue.Target = stalled;
        runtime.Sinks[1].Queue.Target = working;
        StartDecap(settings, runtime);

        const int Posted = 12;
        for (int b = 0; b < Posted; b++)
        {
            PostOneFrame(runtime);
            var batch = working.ExpectMsg<PacketBatch>(TimeSpan.FromSeconds(5));
            runtime.Sinks[1].Queue.Completed();
            batch.Release();
        }

        for (int b = 0; b < settings.QueueDepth; b++)
        {
            stalled.ExpectMsg<PacketBatch>(TimeSpan.FromSeconds(5));
        }

        stalled.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        var dropped = runtime.Sinks[0].Counters.Snapshot().Dropped["queue-full"].Packets;
        Assert.Equal(Posted - settings.QueueDepth, dropped);
        Assert.Equal(0, runtime.Sinks[1].Counters.Snapshot().DroppedPackets);
        Assert.Equal(settings.Batches - settings.QueueDepth, runtime.Pool.Available);
    }

    [Fact]
    public void An_explicit_wait_among_several_sinks_gets_a_queue_as_deep_as_the_pool()
    {
        var settings = Read("sinks = [ { type = tap, device = t0, when-full = wait }, { type = tap, device = t1 } ]");
        var runtime = new PipelineRuntime(settings);
        Assert.Equal((SinkWhenFull.Wait, settings.Batches), (settings.Sinks[0].WhenFull, runtime.Sinks[0].Queue.Capacity));
        Assert.Equal((SinkWhenFull.Drop, settings.QueueDepth), (settings.Sinks[1].WhenFull, runtime.Sinks[1].Queue.Capacity));
    }

    private static PipelineSettings Read(string sinks)
    {
        var config = ConfigurationFactory.ParseString($$"""
            fabric.pipelines = [ {
              name = w
              source { interface = fdw0 }
              batches = 6
              queue-depth = 2
              batch-bytes = 64KiB
              {{sinks}}
            } ]
            """).WithFallback(FabricConfig.Reference);
        return Assert.Single(PipelineSettingsReader.Read(config));
    }

    private void StartDecap(PipelineSettings settings, PipelineRuntime runtime) =>
        runtime.DecapQueue.Target = Sys.ActorOf(DecapActor.Props(settings.Decap, runtime.DecapQueue, runtime.Decap, runtime.Sinks, runtime.Vnis));

    private static void PostOneFrame(PipelineRuntime runtime)
    {
        var batch = runtime.Pool.TryRent() ?? throw new InvalidOperationException("the pool is dry");
        Assert.True(batch.TryAppend(Frame, Frame.Length, 1_700_000_000_000_000_000));
        Assert.True(runtime.DecapQueue.TryPost(batch));
    }

    private static byte[] VxlanFrame()
    {
        var inner = new byte[60];
        inner[12] = 0x88; // an Ethernet frame of the local experimental type 0x88B5: nothing inside to decode
        inner[13] = 0xB5;
        var encap = new Encapsulator(new EncapOptions
        {
            Type = EncapsulationType.Vxlan,
            Vni = 7,
            SourceAddress = IPAddress.Parse("10.0.1.10"),
            DestinationAddress = IPAddress.Parse("10.0.9.5"),
        });
        var buffer = new byte[256];
        return buffer[..encap.Encapsulate(inner, buffer)];
    }
}
