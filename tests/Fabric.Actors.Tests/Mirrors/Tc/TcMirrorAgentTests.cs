using Akka.Actor;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Mirrors;
using Fabric.Actors.Mirrors.Tc;
using Fabric.Actors.Tests.Mirrors.Sandbox;
using Xunit;
using Fabric.Actors.Mirrors.Registry;

namespace Fabric.Actors.Tests.Mirrors.Tc;

/// <summary>"Must show" 7: the tc backend on real veths (clsact + u32 + mirred).</summary>
public sealed class TcMirrorAgentTests : TestKit
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private static readonly byte[] Broadcast = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

    public TcMirrorAgentTests()
        : base("akka.loglevel = INFO")
    {
    }

    private static MirrorSettings Settings => new() { Sites = [], Mirrors = [], Backends = MirrorBackends.Set, ReportInterval = TimeSpan.FromMinutes(1) };

    private static bool MirroredWithin(string sendOn, string receiveOn, TimeSpan timeout)
    {
        using var sender = FrameEndpoint.OpenPacketSocket(sendOn);
        using var receiver = FrameEndpoint.OpenPacketSocket(receiveOn);
        var marker = TestFrames.NewMarker();
        var frame = TestFrames.Build(Broadcast, TestFrames.Mac(7), marker);
        var deadline = DateTime.UtcNow + timeout;
        do
        {
            sender.Send(frame);
            if (receiver.WaitForFrameWith(marker, TimeSpan.FromMilliseconds(100)))
            {
                return true;
            }
        }
        while (DateTime.UtcNow < deadline);
        return false;
    }

    private static MirrorSessionStatus StatusOf(IActorRef agent, string name) =>
        agent.Ask<AgentState>(GetAgentState.Instance, Wait).GetAwaiter().GetResult().Statuses.Single(s => s.Name == name);

    private static AgentState StateOf(IActorRef agent) => agent.Ask<AgentState>(GetAgentState.Instance, Wait).GetAwaiter().GetResult();

    private static string Diagnostics(IActorRef agent, string device) =>
        string.Join('\n', StateOf(agent).RecentRepairs) + "\n" + OvsSandbox.Run("tc", "filter", "show", "dev", device, "ingress") + OvsSandbox.Run("ip", "-d", "link");

    [Fact]
    public void Mirrored_frames_reach_the_target_and_resume_after_the_source_veth_is_recreated()
    {
        using var links = new LinkSet();
        // Source "VM NIC" fm…s (frames enter it from its peer fm…sp), target fm…t (mirrored frames leave it to fm…tp).
        string source = links.Name("s"), sourcePeer = links.Name("sp"), target = links.Name("t"), targetPeer = links.Name("tp");
        links.AddVeth(source, sourcePeer);
        links.AddVeth(target, targetPeer);
        Assert.False(MirroredWithin(sourcePeer, targetPeer, TimeSpan.FromMilliseconds(300)));

        var site = new MirrorSiteSettings("lab-br", MirrorBackendKind.Tc, null, TimeSpan.FromSeconds(30));
        var agent = Sys.ActorOf(TcMirrorAgent.Props(site, Settings, CreateTestProbe().Ref));
        var name = "tc-" + links.Suffix;
        agent.Tell(new AssignSessions("lab-br", 1, [new MirrorSessionSpec(name, "lab-br", MirrorBackendKind.Tc, "", [source], MirrorDirection.Both, target, null, true)]));
        AwaitAssert(() => Assert.Equal(MirrorHealth.Healthy, StatusOf(agent, name).Health), Wait);
        Assert.Contains("mirred", OvsSandbox.Run("tc", "filter", "show", "dev", source, "ingress"), StringComparison.Ordinal);
        Assert.True(MirroredWithin(sourcePeer, targetPeer, Wait));

        // The source goes away (VM stopped) and comes back with a new ifindex and no filters.
        links.DeleteVeth(source, sourcePeer);
        AwaitAssert(() => Assert.Equal(MirrorHealth.Degraded, StatusOf(agent, name).Health), Wait);
        links.AddVeth(source, sourcePeer);
        AwaitAssert(() => Assert.Equal(MirrorHealth.Healthy, StatusOf(agent, name).Health), Wait);
        Assert.True(MirroredWithin(sourcePeer, targetPeer, Wait));
        Assert.Contains(StateOf(agent).RecentRepairs, r => r.Session == name && r.Trigger == "event" && r.Missing.Contains($"{source} ingress mirror missing", StringComparison.Ordinal));

        // The target goes away and comes back: the old mirred action points nowhere and is re-bound.
        links.DeleteVeth(target, targetPeer);
        AwaitAssert(() => Assert.Equal(MirrorHealth.Degraded, StatusOf(agent, name).Health), Wait);
        links.AddVeth(target, targetPeer);
        AwaitAssert(() => Assert.Equal(MirrorHealth.Healthy, StatusOf(agent, name).Health), Wait);
        Assert.True(MirroredWithin(sourcePeer, targetPeer, Wait), Diagnostics(agent, source));

        // Dropping the session removes Fabric's filters (and only those).
        agent.Tell(new AssignSessions("lab-br", 2, []));
        AwaitAssert(() => Assert.DoesNotContain("mirred", OvsSandbox.Run("tc", "filter", "show", "dev", source, "ingress"), StringComparison.Ordinal), Wait);
    }

    [Fact]
    public void Link_monitor_lines_are_parsed()
    {
        Assert.Equal(("fmab12s", false), LinkMonitor.Parse("12: fmab12s@fmab12sp: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP"));
        Assert.Equal(("tap101i1", true), LinkMonitor.Parse("Deleted 7: tap101i1: <BROADCAST,MULTICAST> mtu 1500 qdisc noop state DOWN"));
        Assert.Null(LinkMonitor.Parse("garbage"));
    }
}
