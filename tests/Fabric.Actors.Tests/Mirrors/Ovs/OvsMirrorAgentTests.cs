using System.Collections.Immutable;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Fabric.Actors.Mirrors;
using Fabric.Actors.Mirrors.Ovs;
using Fabric.Actors.Tests.Mirrors.Sandbox;
using Fabric.Protocols.Ovsdb;
using Xunit;
using Fabric.Actors.Mirrors.Registry;
using Fabric.Actors.Mirrors.Backends;

namespace Fabric.Actors.Tests.Mirrors.Ovs;

/// <summary>
/// The OVS agent against real Open vSwitch (ovsdb-server + ovs-vswitchd --disable-system, netdev
/// bridge, kernel taps named like Proxmox VM NICs). "Must show" items 1, 2, 3, 5, 6 at agent level.
/// </summary>
[Collection(OvsSandboxCollection.Name)]
public sealed class OvsMirrorAgentTests : TestKit, IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly OvsSandbox _ovs;
    private readonly VmTraffic _vms;

    public OvsMirrorAgentTests(OvsSandbox ovs)
        : base("akka.loglevel = INFO")
    {
        _ovs = ovs;
        _ovs.Reset();
        _vms = new VmTraffic(ovs);
    }

    private MirrorSiteSettings Site => new("pve-a", MirrorBackendKind.Ovs, new OvsdbSiteSettings(OvsdbEndpoint.Parse(_ovs.Endpoint)), TimeSpan.FromSeconds(30));

    private static MirrorSettings Settings => new()
    {
        Sites = [],
        Backends = MirrorBackends.Set,
        Mirrors = [],
        ReconnectMinBackoff = TimeSpan.FromMilliseconds(50),
        ReconnectMaxBackoff = TimeSpan.FromMilliseconds(500),
        ReportInterval = TimeSpan.FromMinutes(1),
    };

    private MirrorSessionSpec SeedMirror(string name) => new(
        name, "pve-a", MirrorBackendKind.Ovs, _ovs.Bridge, ["vm:101/net1", "vm:101/net6"], MirrorDirection.Both, "vm:103/net1", null, true);

    private IActorRef StartAgent(params MirrorSessionSpec[] sessions)
    {
        var agent = Sys.ActorOf(OvsMirrorAgent.Props(Site, Settings, CreateTestProbe().Ref));
        agent.Tell(new AssignSessions("pve-a", 1, [.. sessions]));
        return agent;
    }

    private static AgentState AgentStateOf(IActorRef agent) => agent.Ask<AgentState>(GetAgentState.Instance, Wait).GetAwaiter().GetResult();

    private static MirrorSessionStatus StatusOf(IActorRef agent, string name) => AgentStateOf(agent).Statuses.Single(s => s.Name == name);

    private void AwaitHealth(IActorRef agent, string name, MirrorHealth health) =>
        AwaitAssert(() => Assert.True(StatusOf(agent, name).Health == health, $"expected {health}: {StatusOf(agent, name)}; repairs: {string.Join(" | ", AgentStateOf(agent).RecentRepairs)}"), Wait, TimeSpan.FromMilliseconds(50));

    private void StopAgent(IActorRef agent, string session)
    {
        // Dropping the session removes Fabric's row; then stop.
        agent.Tell(new AssignSessions("pve-a", 99, []));
        OvsSandbox.WaitFor(() => !_ovs.Vsctl("--columns=name", "list", "Mirror").Contains(session, StringComparison.Ordinal), Wait, "mirror " + session + " removed");
        Watch(agent);
        Sys.Stop(agent);
        ExpectTerminated(agent, Wait);
    }

    [Fact]
    public void Seed_mirror_is_created_and_frames_from_vm_101_reach_the_sensor()
    {
        const string name = "seed-mirror-1";
        _vms.LearnOtherVm();
        Assert.False(_vms.MirroredWithin("tap101i1", "tap103i1", TimeSpan.FromMilliseconds(300), etherType: 0x88b6));

        var agent = StartAgent(SeedMirror(name));
        AwaitHealth(agent, name, MirrorHealth.Healthy);
        foreach (var port in new[] { "tap101i1", "tap101i6" })
        {
            Assert.True(_ovs.MirrorHolds(name, "select_src_port", port));
            Assert.True(_ovs.MirrorHolds(name, "select_dst_port", port));
        }

        Assert.True(_ovs.MirrorHolds(name, "output_port", "tap103i1"));
        Assert.Equal($"{{fabric-session={name}}}", _ovs.Get("Mirror", name, "external_ids"));
        Assert.True(_vms.MirroredWithin("tap101i1", "tap103i1", Wait), _ovs.Diagnostics());
        StopAgent(agent, name);
    }

    [Fact]
    public void Vm_101_restarted_the_proxmox_way_is_repaired_on_the_event()
    {
        const string name = "seed-mirror-2";
        var agent = StartAgent(SeedMirror(name));
        AwaitHealth(agent, name, MirrorHealth.Healthy);
        var oldPort = _ovs.RowUuid("Port", "tap101i1");

        _vms.Close("tap101i1");
        _ovs.RestartVmNic("tap101i1");
        Assert.NotEqual(oldPort, _ovs.RowUuid("Port", "tap101i1"));

        OvsSandbox.WaitFor(() => _ovs.MirrorHolds(name, "select_src_port", "tap101i1") && _ovs.MirrorHolds(name, "select_dst_port", "tap101i1"), Wait, "mirror re-selecting the new tap101i1 port");
        _vms.LearnOtherVm();
        Assert.True(_vms.MirroredWithin("tap101i1", "tap103i1", Wait), _ovs.Diagnostics());
        AwaitHealth(agent, name, MirrorHealth.Healthy);

        var state = AgentStateOf(agent);
        var repair = state.RecentRepairs.Last(r => r.Session == name);
        Assert.Equal("event", repair.Trigger);
        Assert.Contains("source tap101i1 not selected", repair.Missing, StringComparison.Ordinal);
        Assert.Null(repair.Error);
        Assert.True(StatusOf(agent, name).RepairCount >= 2); // creation + repair
        StopAgent(agent, name);
    }

    [Fact]
    public void Sensor_vm_103_restarted_gets_its_output_port_back()
    {
        const string name = "seed-mirror-3";
        var agent = StartAgent(SeedMirror(name));
        AwaitHealth(agent, name, MirrorHealth.Healthy);

        _vms.Close("tap103i1");
        _ovs.DelPort("tap103i1");
        AwaitAssert(() => Assert.Equal(MirrorHealth.Degraded, StatusOf(agent, name).Health), Wait, TimeSpan.FromMilliseconds(20));
        Assert.Contains("output vm:103/net1", StatusOf(agent, name).Reason, StringComparison.Ordinal);
        _ovs.DeleteLink("tap103i1");
        _ovs.AddTap("tap103i1");
        _ovs.AddPort("tap103i1");

        OvsSandbox.WaitFor(() => _ovs.MirrorHolds(name, "output_port", "tap103i1"), Wait, "mirror output on the new tap103i1 port");
        AwaitHealth(agent, name, MirrorHealth.Healthy);
        _vms.LearnOtherVm();
        Assert.True(_vms.MirroredWithin("tap101i1", "tap103i1", Wait), _ovs.Diagnostics());
        StopAgent(agent, name);
    }

    [Fact]
    public void Ovsdb_server_killed_and_restarted_agent_reconnects_and_reconciles()
    {
        const string name = "seed-mirror-5";
        var agent = StartAgent(SeedMirror(name));
        AwaitHealth(agent, name, MirrorHealth.Healthy);

        _ovs.KillOvsdb();
        AwaitHealth(agent, name, MirrorHealth.Unknown);
        Assert.StartsWith("site unreachable", StatusOf(agent, name).Reason, StringComparison.Ordinal);

        // While the server is down, the row is taken out of the database file (as a restore of an
        // old database would): after the restart the agent must notice on its full resync.
        var mirror = OvsSandbox.Run("ovsdb-tool", "query", _ovs.DatabasePath,
            $$"""["Open_vSwitch",{"op":"select","table":"Mirror","where":[["name","==","{{name}}"]],"columns":["_uuid"]}]""");
        var mirrorUuid = System.Text.Json.Nodes.JsonNode.Parse(mirror)![0]!["rows"]![0]!["_uuid"]![1]!.GetValue<string>();
        OvsSandbox.Run("ovsdb-tool", "transact", _ovs.DatabasePath,
            $$"""["Open_vSwitch",{"op":"mutate","table":"Bridge","where":[["name","==","{{_ovs.Bridge}}"]],"mutations":[["mirrors","delete",["uuid","{{mirrorUuid}}"]]]}]""");
        Assert.DoesNotContain(mirrorUuid, OvsSandbox.Run("ovsdb-tool", "query", _ovs.DatabasePath, """["Open_vSwitch",{"op":"select","table":"Mirror","where":[]}]"""), StringComparison.Ordinal);
        _ovs.StartOvsdb();

        OvsSandbox.WaitFor(() => _ovs.MirrorHolds(name, "output_port", "tap103i1"), Wait, "mirror re-created after reconnect");
        AwaitHealth(agent, name, MirrorHealth.Healthy);
        var state = AgentStateOf(agent);
        Assert.Contains(state.RecentRepairs, r => r.Session == name && r.Trigger == "resync" && r.Missing.Contains("mirror row missing", StringComparison.Ordinal));
        _vms.LearnOtherVm();
        Assert.True(_vms.MirroredWithin("tap101i1", "tap103i1", Wait), _ovs.Diagnostics());
        StopAgent(agent, name);
    }

    [Fact]
    public void Foreign_mirror_is_left_alone_and_a_33rd_mirror_is_degraded()
    {
        const string name = "seed-mirror-6";
        // 32 mirrors created by someone else (one with a selection and output, as an operator would).
        var args = new List<string>();
        for (var i = 0; i < 32; i++)
        {
            args.AddRange(["--", $"--id=@m{i}", "create", "Mirror", $"name=foreign-{i}", "external_ids:owner=operator"]);
            args.AddRange(["--", "add", "Bridge", _ovs.Bridge, "mirrors", $"@m{i}"]);
        }

        _ovs.Vsctl([.. args]);
        _ovs.Vsctl("--", "--id=@p", "get", "Port", "tap101i6", "--", "set", "Mirror", "foreign-0", "select_src_port=@p", "--", "set", "Mirror", "foreign-0", "output_port=@p");
        var before = ForeignRows();

        var agent = StartAgent(SeedMirror(name));
        AwaitHealth(agent, name, MirrorHealth.Degraded);
        var status = StatusOf(agent, name);
        Assert.Contains("already has 32 mirrors; OVS applies at most 32 per bridge", status.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain(name, _ovs.Vsctl("--columns=name", "list", "Mirror"), StringComparison.Ordinal);

        // One foreign mirror goes: Fabric's fits now and is applied; the others are untouched.
        _ovs.Vsctl("--", "--id=@m", "get", "Mirror", "foreign-31", "--", "remove", "Bridge", _ovs.Bridge, "mirrors", "@m");
        AwaitHealth(agent, name, MirrorHealth.Healthy);
        _vms.Close("tap101i1");
        _ovs.RestartVmNic("tap101i1"); // Fabric repairs its own mirror, and only its own
        OvsSandbox.WaitFor(() => _ovs.MirrorHolds(name, "select_src_port", "tap101i1"), Wait, "repair with foreign mirrors around");
        var after = ForeignRows();
        var expected = before.Where(r => !r.Contains("foreign-31", StringComparison.Ordinal)).ToArray();
        Assert.True(expected.SequenceEqual(after),
            "foreign mirrors changed:\n--- expected (not in after)\n" + string.Join("\n\n", expected.Except(after)) +
            "\n--- after (not expected)\n" + string.Join("\n\n", after.Except(expected)));

        StopAgent(agent, name);
        var remove = new List<string>();
        for (var i = 0; i < 31; i++)
        {
            remove.AddRange(["--", $"--id=@m{i}", "get", "Mirror", $"foreign-{i}", "--", "remove", "Bridge", _ovs.Bridge, "mirrors", $"@m{i}"]);
        }

        _ovs.Vsctl([.. remove]);
    }

    private ImmutableArray<string> ForeignRows()
    {
        var text = _ovs.Vsctl("--columns=_uuid,name,select_all,select_src_port,select_dst_port,select_vlan,output_port,output_vlan,snaplen,external_ids", "list", "Mirror");
        // Rows are separated by a blank line; the last row printed also carries the output's final
        // newline, and which row comes last follows OVSDB's hash order (it changes when Fabric's row
        // comes and foreign-31 goes): trimmed, equal rows compare equal wherever they were printed.
        return [.. text.Split("\n\n", StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(r => r.Contains("foreign-", StringComparison.Ordinal)).Order(StringComparer.Ordinal)];
    }

    protected override void Dispose(bool disposing)
    {
        _vms.Dispose();
        base.Dispose(disposing);
    }
}
