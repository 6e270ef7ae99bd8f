using Akka.Actor;
using Akka.Configuration;
using Akka.TestKit.Xunit2;
using Fabric.Configuration;
using Fabric.Actors.Decap;
using Fabric.Actors.Pipelines;
using Fabric.Actors.Tests.Mirrors.Fakes;
using Xunit;

namespace Fabric.Actors.Tests.Pipelines;

/// <summary>
/// The decap stage's per-VNI counters and allowed-vnis in a whole pipeline (file source of crafted
/// VXLAN frames, as AWS Traffic Mirror sessions send them -> decap -> PCAP sink); conservation holds.
/// </summary>
public sealed class PipelineVniTests : TestKit, IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("fd-vni-").FullName;

    public new void Dispose()
    {
        Directory.Delete(_directory, recursive: true);
        base.Dispose();
    }

    [Fact]
    public void Frames_are_counted_per_vni_and_vnis_beyond_the_table_under_other()
    {
        var file = Path.Combine(_directory, "mirror.pcap");
        AwsMirrorTraffic.WritePcap(file, (4242, 5), (77, 3), (4242, 2), (999, 4));
        var manager = Start($$"""
            name = aws-mirror
            source { file = "{{file}}" }
            vni-counters = 2
            sinks = [ { type = pcap, directory = "{{Path.Combine(_directory, "out")}}" } ]
            """);

        var stats = WaitFinished(manager, "aws-mirror");

        Assert.Equal(14, stats.Captured);
        Assert.Equal(14, stats.Stages[2].Out.Packets);
        var vnis = stats.Vnis!;
        Assert.Equal([(77, 3L), (4242, 7L)], vnis.Vnis.Select(v => (v.Vni, v.Packets)));
        Assert.Equal(4, vnis.OtherPackets);
        Assert.Equal(vnis.Vnis.Sum(v => v.Bytes) + vnis.OtherBytes, stats.Stages[0].Out.Bytes);
        Assert.True(stats.Balanced);

        var view = Vnis(manager).Single();
        Assert.Equal(("aws-mirror", "finished", 14L), (view.Name, view.State, view.Delivered));
        Assert.Equal(["pcap-0"], view.Sinks.ToArray());
        Assert.Equal(vnis.Vnis.ToArray(), view.Vnis!.Vnis.ToArray());
    }

    [Fact]
    public void Allowed_vnis_drop_the_frames_of_other_vnis_by_name()
    {
        var file = Path.Combine(_directory, "mixed.pcap");
        AwsMirrorTraffic.WritePcap(file, (4242, 5), (77, 3), (999, 4));
        var manager = Start($$"""
            name = only-ours
            source { file = "{{file}}" }
            allowed-vnis = [4242, 999]
            sinks = [ { type = pcap, directory = "{{Path.Combine(_directory, "out2")}}" } ]
            """);

        var stats = WaitFinished(manager, "only-ours");

        Assert.Equal(12, stats.Captured);
        Assert.Equal(3, stats.Stages[1].Dropped["vni-not-allowed"].Packets);
        Assert.Equal(9, stats.Stages[2].Out.Packets);
        Assert.Equal([(77, 3L, false), (999, 4L, true), (4242, 5L, true)], stats.Vnis!.Vnis.Select(v => (v.Vni, v.Packets, v.Allowed)));
        Assert.True(stats.Balanced);
    }

    [Fact]
    public void Vni_counters_off_gives_no_table()
    {
        var file = Path.Combine(_directory, "off.pcap");
        AwsMirrorTraffic.WritePcap(file, (4242, 2));
        var manager = Start($$"""
            name = no-vnis
            source { file = "{{file}}" }
            vni-counters = 0
            sinks = [ { type = pcap, directory = "{{Path.Combine(_directory, "out3")}}" } ]
            """);

        var stats = WaitFinished(manager, "no-vnis");
        Assert.Equal(2, stats.Stages[2].Out.Packets);
        Assert.Null(stats.Vnis);
    }

    private static IReadOnlyList<PipelineVniView> Vnis(IActorRef manager) =>
        manager.Ask<PipelineVniReply>(GetPipelineVnis.Instance, TimeSpan.FromSeconds(5)).GetAwaiter().GetResult().Pipelines;

    private IActorRef Start(string pipeline)
    {
        var config = ConfigurationFactory.ParseString("fabric.pipelines = [ {\n" + pipeline + "\n} ]").WithFallback(FabricConfig.Reference);
        return Sys.ActorOf(PipelineManager.Props(PipelineSettingsReader.Read(config)), "pipelines");
    }

    private PipelineStats WaitFinished(IActorRef manager, string name)
    {
        PipelineStats? stats = null;
        AwaitCondition(() =>
        {
            stats = manager.Ask<PipelineStatsReply>(new GetPipelineStats(name), TimeSpan.FromSeconds(5)).Result.Pipelines.Single();
            return stats.State == "finished";
        }, TimeSpan.FromSeconds(15), TimeSpan.FromMilliseconds(50));
        return stats!;
    }
}
