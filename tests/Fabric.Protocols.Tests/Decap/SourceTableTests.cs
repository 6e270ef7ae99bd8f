using Fabric.Protocols.Decap;
using Xunit;

namespace Fabric.Protocols.Tests.Decap;

/// <summary>Source ids (issue 15 point 1): named after the mirror session the outer headers describe,
/// bounded, allocation-free per frame.</summary>
public class SourceTableTests
{
    private static PacketMetadata Decap(byte[] frame)
    {
        var buffer = (byte[])frame.Clone();
        var status = new Decapsulator(new DecapOptions()).Decapsulate(buffer, 0, buffer.Length, buffer.Length, 0, out _, out var md);
        Assert.Equal(DecapStatus.Ok, status);
        return md;
    }

    public static TheoryData<string, string> Names => new()
    {
        { "erspan-ii", "erspan 192.0.2.1 session 666" },
        { "erspan-iii", "erspan 192.0.2.1 session 101" },
        { "erspan-i", "erspan-i 192.0.2.1" },
        { "vxlan", "vxlan 192.0.2.1 vni 100" },
        { "geneve", "geneve 192.0.2.1 vni 1193046" },
        { "gre-key", "gre 192.0.2.1 key 1193046" },
        { "gre", "gre 192.0.2.1" },
        { "ip-in-ip", "ip-in-ip 192.0.2.1" },
        { "vxlan-in-erspan-ii", "erspan 192.0.2.1 session 666" },
    };

    private static byte[] Build(string kind) => kind switch
    {
        "erspan-ii" => PacketBuilder.ErspanII(PacketBuilder.InnerFrame(), PacketBuilder.DefaultErspanII),
        "erspan-iii" => PacketBuilder.ErspanIII(PacketBuilder.InnerFrame(), PacketBuilder.DefaultErspanIII),
        "erspan-i" => PacketBuilder.ErspanI(PacketBuilder.InnerFrame()),
        "vxlan" => PacketBuilder.Vxlan(PacketBuilder.InnerFrame()),
        "geneve" => PacketBuilder.Geneve(PacketBuilder.InnerFrame()),
        "gre-key" => PacketBuilder.Gre(PacketBuilder.InnerFrame()),
        "gre" => PacketBuilder.Gre(PacketBuilder.InnerFrame(), key: null),
        "ip-in-ip" => PacketBuilder.IpInIp(PacketBuilder.InnerIp()),
        "vxlan-in-erspan-ii" => PacketBuilder.ErspanII(PacketBuilder.Vxlan(PacketBuilder.InnerFrame()), PacketBuilder.DefaultErspanII),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    [Theory]
    [MemberData(nameof(Names))]
    public void A_source_is_named_after_the_outermost_tunnel_its_address_and_id(string kind, string name)
    {
        var table = new SourceTable(16);

        var id = table.Resolve(Decap(Build(kind)), 60, 5);

        Assert.Equal(1, id);
        Assert.Equal(name, table[id].Name);
        Assert.StartsWith("192.0.2.1 -> 192.0.2.2, ", table[id].Description, StringComparison.Ordinal);
        Assert.Equal(1, table[id].Frames);
        Assert.Equal(60, table[id].Bytes);
    }

    [Fact]
    public void The_same_session_keeps_its_id_and_different_sessions_get_their_own()
    {
        var table = new SourceTable(16);
        var vxlan100 = Decap(PacketBuilder.Vxlan(PacketBuilder.InnerFrame(), vni: 100));
        var vxlan200 = Decap(PacketBuilder.Vxlan(PacketBuilder.InnerFrame(), vni: 200));
        var erspan = Decap(PacketBuilder.ErspanII(PacketBuilder.InnerFrame(), PacketBuilder.DefaultErspanII));

        ushort[] ids = [table.Resolve(vxlan100, 10, 1), table.Resolve(vxlan200, 10, 2), table.Resolve(vxlan100, 10, 3), table.Resolve(erspan, 10, 4)];

        Assert.Equal(new ushort[] { 1, 2, 1, 3 }, ids);
        Assert.Equal(4, table.Count);
        Assert.Equal(2, table[1].Frames);
        Assert.Equal(1, table[1].FirstSeenNs);
        Assert.Equal(3, table[1].LastSeenNs);
    }

    [Fact]
    public void Past_the_maximum_new_sessions_are_other_and_counted()
    {
        var table = new SourceTable(2);
        var ids = Enumerable.Range(1, 5).Select(vni => table.Resolve(Decap(PacketBuilder.Vxlan(PacketBuilder.InnerFrame(), vni: (uint)vni)), 10, vni)).ToArray();

        Assert.Equal(new ushort[] { 1, 2, 0, 0, 0 }, ids);
        Assert.Equal(3, table.Overflowed);
        Assert.Equal(3, table[SourceTable.OtherId].Frames);
        Assert.Equal("other", table[SourceTable.OtherId].Name);
    }

    /// <summary>The table's own hash table (open addressing): a full table of sessions that differ only in a byte or
    /// two of the address (in its high or low half) and share VNIs across IPv4 and IPv6 keeps every session apart,
    /// each on the id it got first.</summary>
    [Fact]
    public void A_full_table_of_near_identical_sessions_keeps_each_on_its_own_id()
    {
        var table = new SourceTable(SourceTable.Limit);
        var sessions = new List<PacketMetadata>();
        for (int i = 0; i < SourceTable.Limit; i++)
        {
            var md = new PacketMetadata { Depth = 1, OuterIpVersion = (byte)(i % 4 == 0 ? 4 : 6), Vni = (uint)(i / 8), HasVni = true };
            md.Chain[0] = EncapKind.Vxlan;
            md.OuterSource[0] = 0x20;
            md.OuterSource[i % 2 == 0 ? 7 : 15] = (byte)(i % 8); // IPv6: a byte of the high or the low half
            md.OuterSource[3] = (byte)(i % 8);                   // IPv4: its last byte
            sessions.Add(md);
        }

        var first = sessions.Select((md, i) => table.Resolve(md, 10, i)).ToArray();
        var again = sessions.Select((md, i) => table.Resolve(md, 10, i)).ToArray();

        Assert.Equal(Enumerable.Range(1, SourceTable.Limit).Select(i => (ushort)i), first);
        Assert.Equal(first, again);
        Assert.Equal(SourceTable.Limit, table.Snapshot().Skip(1).Select(s => s.Key).Distinct().Count());
        Assert.All(table.Snapshot().Skip(1), s => Assert.Equal(2, s.Frames));
        var extra = new PacketMetadata { Depth = 1, OuterIpVersion = 4, Vni = 99_999, HasVni = true };
        extra.Chain[0] = EncapKind.Vxlan;
        Assert.Equal(SourceTable.OtherId, table.Resolve(extra, 10, 0));
        Assert.Equal(1, table.Overflowed);
    }

    [Fact]
    public void A_named_session_has_its_name_in_the_description_and_the_others_do_not()
    {
        var names = new Dictionary<string, string> { ["vxlan 192.0.2.1 vni 200"] = "branch-12", ["vxlan 192.0.2.1 vni 999"] = "never seen" };
        var table = new SourceTable(16, names);

        var unnamed = table.Resolve(Decap(PacketBuilder.Vxlan(PacketBuilder.InnerFrame(), vni: 100)), 10, 1);
        var named = table.Resolve(Decap(PacketBuilder.Vxlan(PacketBuilder.InnerFrame(), vni: 200)), 10, 2);

        Assert.Equal("vxlan 192.0.2.1 vni 200", table[named].Name);
        Assert.Equal("192.0.2.1 -> 192.0.2.2, vxlan; mirror session branch-12", table[named].Description);
        Assert.Equal("192.0.2.1 -> 192.0.2.2, vxlan", table[unnamed].Description);
    }

    [Theory]
    [InlineData("erspan 198.18.1.10 session 7", true)]
    [InlineData("vxlan 10.0.0.5 vni 42", true)]
    [InlineData("vxlan-gpe 10.0.0.5 vni 0", true)]
    [InlineData("geneve 2001:db8::1 vni 1193046", true)]
    [InlineData("gre 198.18.1.11 key 1001", true)]
    [InlineData("gre 198.18.1.11", true)]
    [InlineData("erspan-i 198.18.1.11", true)]
    [InlineData("ip-in-ip 198.18.1.11", true)]
    [InlineData("gre-in-udp 198.18.1.11", true)]
    [InlineData("erspan 198.18.1.10 vni 7", false)]     // ERSPAN carries a session, not a VNI
    [InlineData("erspan 198.18.1.10", false)]           // ERSPAN II/III always have a session id
    [InlineData("vxlan 10.0.0.5 vni 042", false)]       // not as Fabric writes the number
    [InlineData("vxlan 10.0.0.5 vni -1", false)]
    [InlineData("vxlan 2001:DB8::1 vni 4", false)]      // not as Fabric writes the address
    [InlineData("vxlan host.example vni 4", false)]
    [InlineData("vxlan  10.0.0.5 vni 4", false)]
    [InlineData("other", false)]
    [InlineData("", false)]
    public void Source_names_in_configuration_are_checked_against_what_a_source_can_be_called(string text, bool valid)
    {
        Assert.Equal(valid, SourceNames.Check(text) is null);
    }

    /// <summary>Every name the table gives passes the check (the two agree).</summary>
    [Theory]
    [MemberData(nameof(Names))]
    public void Every_name_a_source_gets_passes_the_check(string kind, string name)
    {
        var table = new SourceTable(16);
        var id = table.Resolve(Decap(Build(kind)), 60, 5);
        Assert.Equal(name, table[id].Name);
        Assert.Null(SourceNames.Check(table[id].Name));
    }

    [Fact]
    public void A_frame_without_a_tunnel_is_other()
    {
        var table = new SourceTable(4);
        Assert.Equal(SourceTable.OtherId, table.Resolve(default, 10, 1));
        Assert.Equal(0, table.Overflowed);
    }

    [Fact]
    public void Resolving_a_known_session_allocates_nothing()
    {
        var table = new SourceTable(16);
        var md = Decap(PacketBuilder.ErspanIII(PacketBuilder.InnerFrame(), PacketBuilder.DefaultErspanIII));
        table.Resolve(md, 10, 1);

        Allocations.AssertNone(() =>
        {
            for (var i = 0; i < 1000; i++)
            {
                table.Resolve(md, 10, i);
            }
        }, "SourceTable.Resolve");
    }

    [Fact]
    public void Erspan_iii_direction_and_switch_time_follow_the_header()
    {
        var fields = PacketBuilder.DefaultErspanIII with { Direction = 1, Granularity = 1, Timestamp = 12345 };
        var egress = Decap(PacketBuilder.ErspanIII(PacketBuilder.InnerFrame(), fields));
        var ingress = Decap(PacketBuilder.ErspanIII(PacketBuilder.InnerFrame(), fields with { Direction = 0, Granularity = 0 }));
        var platform = Decap(PacketBuilder.ErspanIII(PacketBuilder.InnerFrame(), fields with { Granularity = 3 }));
        var erspanII = Decap(PacketBuilder.ErspanII(PacketBuilder.InnerFrame(), PacketBuilder.DefaultErspanII));

        Assert.Equal(2, ErspanTime.Direction(egress));
        Assert.Equal(1, ErspanTime.Direction(ingress));
        Assert.Equal(0, ErspanTime.Direction(erspanII));
        Assert.Equal(12345 * 100L, ErspanTime.SwitchNanoseconds(egress));
        Assert.Equal(12345 * 100_000L, ErspanTime.SwitchNanoseconds(ingress));
        Assert.Equal(0, ErspanTime.SwitchNanoseconds(platform));
        Assert.Equal(0, ErspanTime.SwitchNanoseconds(erspanII));
    }
}
