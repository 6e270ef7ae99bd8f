using System.Collections.Immutable;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Mirrors;
using Fabric.Actors.Mirrors.Proxmox;
using Fabric.Actors.Tests.Mirrors.Fakes;
using Fabric.Actors.Tests.Mirrors.Sandbox;
using Fabric.Protocols.Ovsdb;
using Xunit;
using Fabric.Actors.Mirrors.Registry;
using Fabric.Actors.Mirrors.Backends;

namespace Fabric.Actors.Tests.Mirrors.Proxmox;

/// <summary>
/// The proxmox agent (ProxmoxClient over HTTPS with a pinned certificate and an API token) against
/// an in-process FAKE PVE API, not Proxmox, with REAL Open vSwitch instances as the nodes'
/// switches: the shared OVS sandbox is node pve-a, a second sandbox is node pve-b. Both run on
/// this one kernel, so their bridges have different names and the fake configures each VM NIC
/// with the bridge of the node it runs on; the session mirrors to output VLAN 999, which reaches
/// the sensor tap of whichever node holds the mirror. Issue 6 must-show 2 and 3.
/// </summary>
[Collection(OvsSandboxCollection.Name)]
public sealed class ProxmoxMirrorAgentAgainstFakeProxmoxApiTests : TestKit, IAsyncLifetime
{
    private const string TokenId = "fabric@pve!mirrors";
    private const string TokenSecret = "5f0c0b1e-7c52-4d43-9a3e-2b7a0e6f1d11";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);
    private readonly OvsSandbox _a;
    private readonly string _dir = Directory.CreateTempSubdirectory("fs-pve-").FullName;
    private FakeProxmoxApi _pve = null!;

    public ProxmoxMirrorAgentAgainstFakeProxmoxApiTests(OvsSandbox ovs)
        : base("akka.loglevel = INFO") => _a = ovs;

    public async Task InitializeAsync() => _pve = await FakeProxmoxApi.StartAsync(TokenId, TokenSecret);

    public async Task DisposeAsync()
    {
        await _pve.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private MirrorSiteSettings Site(params (string Node, OvsSandbox Ovs)[] nodes)
    {
        var secret = Path.Combine(_dir, "token");
        File.WriteAllText(secret, TokenSecret);
        File.SetUnixFileMode(secret, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return new MirrorSiteSettings(
            "pve",
            MirrorBackendKind.Proxmox,
            new ProxmoxSiteSettings(
                new MirrorApiSettings(_pve.Server.Url, TokenId, secret, null, _pve.Server.Fingerprint),
                nodes.ToDictionary(n => n.Node, n => OvsdbEndpoint.Parse(n.Ovs.Endpoint)).ToImmutableDictionary()),
            TimeSpan.FromMilliseconds(300));
    }

    private static MirrorSettings Settings => new()
    {
        Sites = [],
        Backends = MirrorBackends.Set,
        Mirrors = [],
        ReconnectMinBackoff = TimeSpan.FromMilliseconds(50),
        ReconnectMaxBackoff = TimeSpan.FromMilliseconds(500),
        ReportInterval = TimeSpan.FromMinutes(1),
    };

    private IActorRef StartAgent(MirrorSiteSettings site, params MirrorSessionSpec[] sessions)
    {
        var agent = Sys.ActorOf(ProxmoxMirrorAgent.Props(site, Settings, CreateTestProbe().Ref, null, () => ProxmoxPlugin.Client(site)));
        agent.Tell(new AssignSessions("pve", 1, [.. sessions]));
        return agent;
    }

    private static AgentState StateOf(IActorRef agent) => agent.Ask<AgentState>(GetAgentState.Instance, Wait).GetAwaiter().GetResult();

    private void AwaitHealthy(IActorRef agent, string name) =>
        AwaitAssert(() => Assert.Equal("healthy", StateOf(agent).Statuses.Single(s => s.Name == name).Describe()), Wait, TimeSpan.FromMilliseconds(50));

    private static bool HasMirror(OvsSandbox ovs, string name) =>
        ovs.Vsctl("--columns=name", "list", "Mirror").Contains(name, StringComparison.Ordinal);

    private void RemoveSessions(IActorRef agent, string name)
    {
        agent.Tell(new AssignSessions("pve", 99, []));
        OvsSandbox.WaitFor(() => !HasMirror(_a, name), Wait, "mirror " + name + " removed from pve-a");
        Watch(agent);
        Sys.Stop(agent);
        ExpectTerminated(agent, Wait);
    }

    /// <summary>The sensor's NIC on a node: a tap on the node bridge (names are per kernel, so per node); the session mirrors to output VLAN 999, which reaches it on every node.</summary>
    private static string AddSensor(OvsSandbox ovs)
    {
        var tap = "fs" + Guid.NewGuid().ToString("N")[..6] + "s";
        ovs.AddTap(tap);
        ovs.AddPort(tap);
        return tap;
    }

    private static void RemoveSensor(OvsSandbox ovs, string tap)
    {
        ovs.DelPort(tap);
        ovs.DeleteLink(tap);
    }

    [Fact]
    public void VM_101_migrating_from_node_A_to_B_moves_the_mirror_and_frames_mirrored_on_B_reach_the_sensor()
    {
        const string name = "pve-migrate";
        using var b = new OvsSandbox(proxmoxTaps: false);
        var sensorA = AddSensor(_a);
        var sensorB = AddSensor(b);
        using var trafficA = new VmTraffic(_a);
        using var trafficB = new VmTraffic(b);
        var migrated = false;
        try
        {
            _pve.SetVm(101, "pve-a", ("net1", $"virtio=BC:24:11:00:01:01,bridge={_a.Bridge}"));
            var session = new MirrorSessionSpec(name, "pve", MirrorBackendKind.Proxmox, "", ["vm:101/net1"], MirrorDirection.Both, "vlan:999", null, true);
            var agent = StartAgent(Site(("pve-a", _a), ("pve-b", b)), session);

            AwaitHealthy(agent, name);
            Assert.True(_a.MirrorHolds(name, "select_src_port", "tap101i1"));
            Assert.False(HasMirror(b, name));
            trafficA.LearnOtherVm();
            Assert.True(trafficA.MirroredWithin("tap101i1", sensorA, Wait), "mirrored on pve-a before the migration");

            // Live migration: qemu on A goes (its tap with it), qemu on B plugs tap101i1 into B's bridge.
            trafficA.Close("tap101i1");
            _a.DelPort("tap101i1");
            _a.DeleteLink("tap101i1");
            b.AddTap("tap101i1");
            b.AddPort("tap101i1");
            migrated = true;
            _pve.Migrate(101, "pve-b", ("net1", $"virtio=BC:24:11:00:01:01,bridge={b.Bridge}"));

            OvsSandbox.WaitFor(() => HasMirror(b, name) && b.MirrorHolds(name, "select_src_port", "tap101i1"), Wait, "mirror on pve-b");
            OvsSandbox.WaitFor(() => !HasMirror(_a, name), Wait, "mirror removed on pve-a");
            AwaitHealthy(agent, name);
            AwaitAssert(
                () => Assert.Contains(StateOf(agent).RecentRepairs, r => r.Trigger == "migration" && r.Missing == "VM 101 moved from pve-a to pve-b: mirror removed on pve-a, created on pve-b"),
                Wait);
            trafficB.LearnOtherVm();
            Assert.True(trafficB.MirroredWithin("tap101i1", sensorB, Wait), "frames mirrored on pve-b reach the sensor");

            agent.Tell(new AssignSessions("pve", 99, []));
            OvsSandbox.WaitFor(() => !HasMirror(b, name), Wait, "mirror removed from pve-b");
            Sys.Stop(agent);
        }
        finally
        {
            trafficB.Dispose();
            if (migrated)
            {
                b.DelPort("tap101i1");
                b.DeleteLink("tap101i1");
                _a.AddTap("tap101i1");
                _a.AddPort("tap101i1");
            }

            RemoveSensor(_a, sensorA);
            RemoveSensor(b, sensorB);
        }
    }

    [Fact]
    public void VM_firewall_on_builds_the_mirror_on_fwln_port()
    {
        const string name = "pve-firewall";
        _a.AddTap("fwln101o1");
        _a.AddPort("fwln101o1");
        try
        {
            _pve.SetVm(101, "pve-a", ("net1", $"virtio=BC:24:11:00:01:01,bridge={_a.Bridge},firewall=1,tag=100"));
            _pve.SetVm(103, "pve-a", ("net1", $"virtio=BC:24:11:00:03:01,bridge={_a.Bridge}"));
            var session = new MirrorSessionSpec(name, "pve", MirrorBackendKind.Proxmox, _a.Bridge, ["vm:101/net1"], MirrorDirection.Ingress, "vm:103/net1", null, true);
            var agent = StartAgent(Site(("pve-a", _a)), session);

            AwaitHealthy(agent, name);
            Assert.True(_a.MirrorHolds(name, "select_src_port", "fwln101o1"));
            Assert.False(_a.MirrorHolds(name, "select_src_port", "tap101i1"));
            Assert.True(_a.MirrorHolds(name, "output_port", "tap103i1"));
            RemoveSessions(agent, name);
        }
        finally
        {
            _a.DelPort("fwln101o1");
            _a.DeleteLink("fwln101o1");
        }
    }

    [Fact]
    public void Sources_on_two_nodes_or_an_unknown_VM_are_degraded_with_the_reason()
    {
        _pve.SetVm(101, "pve-a", ("net1", $"virtio=BC:24:11:00:01:01,bridge={_a.Bridge}"));
        _pve.SetVm(102, "pve-b", ("net1", $"virtio=BC:24:11:00:02:01,bridge={_a.Bridge}"));
        var spans = new MirrorSessionSpec("pve-spans", "pve", MirrorBackendKind.Proxmox, "", ["vm:101/net1", "vm:102/net1"], MirrorDirection.Both, "sensor-out", null, true);
        var unknown = new MirrorSessionSpec("pve-unknown", "pve", MirrorBackendKind.Proxmox, "", ["vm:999/net0"], MirrorDirection.Both, "sensor-out", null, true);
        var agent = StartAgent(Site(("pve-a", _a)), spans, unknown);

        AwaitAssert(
            () =>
            {
                var statuses = StateOf(agent).Statuses.ToDictionary(s => s.Name, s => s.Describe());
                Assert.Equal("degraded (the source VMs run on several nodes (pve-a, pve-b); one mirror cannot span nodes)", statuses.GetValueOrDefault("pve-spans"));
                Assert.Equal("degraded (VM 999 (vm:999/net0) is not in the Proxmox cluster)", statuses.GetValueOrDefault("pve-unknown"));
            },
            Wait);
        Assert.False(HasMirror(_a, "pve-spans"));
        Assert.Equal(0, _pve.Unauthorized);
    }
}
