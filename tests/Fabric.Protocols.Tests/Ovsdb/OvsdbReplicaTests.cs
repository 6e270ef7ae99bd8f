using Xunit;
using System.Text.Json.Nodes;
using Fabric.Protocols.Ovsdb;

namespace Fabric.Protocols.Tests.Ovsdb;

public sealed class OvsdbReplicaTests
{
    private static readonly OvsdbSchema Schema = OvsdbSchema.Parse((JsonObject)JsonNode.Parse(File.ReadAllText("/usr/share/openvswitch/vswitch.ovsschema"))!);
    private const string M = "0b8f6a55-0d3e-4c8e-a0a5-6c3a5e3b9a11";
    private const string P1 = "6c1b9e55-58a1-4c4d-9d0e-5b8c7d1b2f10";
    private const string P2 = "7d2c0f66-69b2-4d5e-8e1f-6c9d8e2c3a21";

    private static JsonObject Parse(string json) =>
        (JsonObject)JsonNode.Parse(json.Replace("@M", M, StringComparison.Ordinal).Replace("@P1", P1, StringComparison.Ordinal).Replace("@P2", P2, StringComparison.Ordinal))!;

    [Fact]
    public void Schema_kinds_follow_min_max_and_value()
    {
        Assert.Equal(OvsdbColumnKind.Atom, Schema.KindOf("Mirror", "name"));
        Assert.Equal(OvsdbColumnKind.Set, Schema.KindOf("Mirror", "select_src_port"));
        Assert.Equal(OvsdbColumnKind.Set, Schema.KindOf("Mirror", "output_port"));
        Assert.Equal(OvsdbColumnKind.Map, Schema.KindOf("Mirror", "external_ids"));
    }

    [Fact]
    public void Update2_initial_insert_modify_delete()
    {
        var replica = new OvsdbReplica(Schema);
        // Initial row as in a monitor_cond reply: one-element set written as the atom itself.
        replica.Apply(Parse("""{"Mirror":{"@M":{"initial":{"name":"m","select_src_port":["uuid","@P1"],"output_port":["set",[]],"external_ids":["map",[["fabric-session","m"]]]}}}}"""));
        var row = replica.Table("Mirror")[Guid.Parse(M)];
        Assert.Equal([Guid.Parse(P1)], row.GetUuids("select_src_port"));
        Assert.Empty(row.GetUuids("output_port"));

        // Set diff is a symmetric difference: P1 leaves, P2 joins; optional output gets P2.
        replica.Apply(Parse("""{"Mirror":{"@M":{"modify":{"select_src_port":["set",[["uuid","@P1"],["uuid","@P2"]]],"output_port":["uuid","@P2"],"name":"n"}}}}"""));
        row = replica.Table("Mirror")[Guid.Parse(M)];
        Assert.Equal([Guid.Parse(P2)], row.GetUuids("select_src_port"));
        Assert.Equal([Guid.Parse(P2)], row.GetUuids("output_port"));
        Assert.Equal("n", row.GetString("name"));

        // Map diff: same pair removes, new key adds, other value replaces.
        replica.Apply(Parse("""{"Mirror":{"@M":{"modify":{"external_ids":["map",[["fabric-session","m"],["owner","x"]]]}}}}"""));
        Assert.Equal(new Dictionary<string, string> { ["owner"] = "x" }, replica.Table("Mirror")[Guid.Parse(M)].GetStringMap("external_ids"));
        replica.Apply(Parse("""{"Mirror":{"@M":{"modify":{"external_ids":["map",[["owner","y"]]]}}}}"""));
        Assert.Equal(new Dictionary<string, string> { ["owner"] = "y" }, replica.Table("Mirror")[Guid.Parse(M)].GetStringMap("external_ids"));

        replica.Apply(Parse("""{"Mirror":{"@M":{"delete":null}}}"""));
        Assert.Empty(replica.Table("Mirror"));
    }
}
