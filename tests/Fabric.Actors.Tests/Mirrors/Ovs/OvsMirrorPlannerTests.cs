using System.Text.Json.Nodes;
using Fabric.Actors.Mirrors;
using Fabric.Actors.Mirrors.Ovs;
using Fabric.Protocols.Ovsdb;
using Xunit;

namespace Fabric.Actors.Tests.Mirrors.Ovs;

/// <summary>The planner on hand-made replicas (rows as ovsdb-server sends them in a monitor_cond reply).</summary>
public sealed class OvsMirrorPlannerTests
{
    private static readonly OvsdbSchema Schema = OvsdbSchema.Parse((JsonObject)JsonNode.Parse(File.ReadAllText("/usr/share/openvswitch/vswitch.ovsschema"))!);

    private static MirrorSessionSpec Seed => new("seed-mirror", "pve-a", MirrorBackendKind.Ovs, "vmbr1", ["vm:101/net1"], MirrorDirection.Both, "vm:103/net1", null, true);

    private static (OvsdbReplica Replica, Dictionary<string, Guid> Ports, Guid Bridge) Replica(IEnumerable<string> portNames, int foreignMirrors = 0)
    {
        var ports = portNames.ToDictionary(n => n, _ => Guid.NewGuid());
        var bridge = Guid.NewGuid();
        var mirrors = Enumerable.Range(0, foreignMirrors).Select(_ => Guid.NewGuid()).ToList();
        var update = new JsonObject
        {
            ["Bridge"] = new JsonObject
            {
                [bridge.ToString()] = new JsonObject
                {
                    ["initial"] = new JsonObject
                    {
                        ["name"] = "vmbr1",
                        ["ports"] = OvsdbJson.Set(ports.Values.Select(p => (JsonNode)OvsdbJson.Uuid(p))),
                        ["mirrors"] = OvsdbJson.Set(mirrors.Select(m => (JsonNode)OvsdbJson.Uuid(m))),
                    },
                },
            },
            ["Port"] = new JsonObject(ports.Select(p => KeyValuePair.Create(p.Value.ToString(), (JsonNode?)new JsonObject { ["initial"] = new JsonObject { ["name"] = p.Key } }))),
            ["Mirror"] = new JsonObject(mirrors.Select((m, i) => KeyValuePair.Create(m.ToString(), (JsonNode?)new JsonObject
            {
                ["initial"] = new JsonObject { ["name"] = $"foreign-{i}", ["external_ids"] = OvsdbJson.Map([new("owner", "operator")]) },
            }))),
        };
        var replica = new OvsdbReplica(Schema);
        replica.Apply(update);
        return (replica, ports, bridge);
    }

    [Fact]
    public void Vm_nic_resolves_to_the_firewall_link_when_the_tap_is_not_on_the_bridge()
    {
        var (replica, ports, bridge) = Replica(["fwln101o1", "tap103i1"]);
        var plan = Assert.Single(OvsMirrorPlanner.Plan(replica, [Seed]));
        Assert.Equal(MirrorHealth.Healthy, plan.Health);
        Assert.Equal("mirror row missing", plan.Drift);
        Assert.Equal(2, plan.Operations.Count);
        var row = plan.Operations[0]["row"]!;
        Assert.Equal(OvsdbJson.Set([OvsdbJson.Uuid(ports["fwln101o1"])]).ToJsonString(), row["select_src_port"]!.ToJsonString());
        Assert.Equal(OvsdbJson.Set([OvsdbJson.Uuid(ports["tap103i1"])]).ToJsonString(), row["output_port"]!.ToJsonString());
        Assert.Equal("""["map",[["fabric-session","seed-mirror"]]]""", row["external_ids"]!.ToJsonString());
        // Insert and the strong reference from the bridge in the same transaction.
        Assert.Equal("mutate", plan.Operations[1]["op"]!.GetValue<string>());
        Assert.Contains(bridge.ToString(), plan.Operations[1]["where"]!.ToJsonString(), StringComparison.Ordinal);
        Assert.Contains("named-uuid", plan.Operations[1]["mutations"]!.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_tap_wins_when_both_exist()
    {
        var (replica, ports, _) = Replica(["tap101i1", "fwln101o1", "tap103i1"]);
        var plan = Assert.Single(OvsMirrorPlanner.Plan(replica, [Seed]));
        Assert.Contains(ports["tap101i1"].ToString(), plan.Operations[0]["row"]!["select_src_port"]!.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_output_means_no_row_and_degraded_with_the_names_tried()
    {
        var (replica, _, _) = Replica(["tap101i1"]);
        var plan = Assert.Single(OvsMirrorPlanner.Plan(replica, [Seed]));
        Assert.Equal(MirrorHealth.Degraded, plan.Health);
        Assert.Equal("output vm:103/net1 (tap103i1 or fwln103o1 not on vmbr1)", plan.Reason);
        Assert.Empty(plan.Operations);
    }

    [Fact]
    public void A_33rd_mirror_is_not_inserted_and_foreign_rows_are_never_planned()
    {
        var (replica, _, _) = Replica(["tap101i1", "tap103i1"], foreignMirrors: 32);
        var plan = Assert.Single(OvsMirrorPlanner.Plan(replica, [Seed]));
        Assert.Equal(MirrorHealth.Degraded, plan.Health);
        Assert.Equal("bridge vmbr1 already has 32 mirrors; OVS applies at most 32 per bridge", plan.Reason);
        Assert.Empty(plan.Operations);
        Assert.Empty(OvsMirrorPlanner.PlanOrphans(replica, new HashSet<string>()));
    }

    [Fact]
    public void Vlan_sources_select_all_ports_on_those_vlans_with_an_output_vlan()
    {
        var (replica, _, _) = Replica(["tap103i1"]);
        var spec = Seed with { Sources = ["vlan:100", "vlan:200"], Output = "vlan:999", SnapLength = 128 };
        var row = Assert.Single(OvsMirrorPlanner.Plan(replica, [spec])).Operations[0]["row"]!;
        Assert.True(row["select_all"]!.GetValue<bool>());
        Assert.Equal("""["set",[100,200]]""", row["select_vlan"]!.ToJsonString());
        Assert.Equal("""["set",[999]]""", row["output_vlan"]!.ToJsonString());
        Assert.Equal("""["set",[]]""", row["output_port"]!.ToJsonString());
        Assert.Equal("""["set",[128]]""", row["snaplen"]!.ToJsonString());
    }
}
