using Fabric.Protocols.Decap;
using Xunit;

namespace Fabric.Protocols.Tests.Decap;

/// <summary>
/// One reader at a time, on bytes copied from `tshark -r FILE -c1 -x` of corpus captures (file
/// and offsets named above each vector), expected values from `tshark -T fields` of the same frame.
/// </summary>
public class HeaderReaderTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", string.Empty, StringComparison.Ordinal));

    // zeek/erspanII.pcap frame 1, bytes 0x00-0x31 (Ethernet, IPv4, GRE with S, ERSPAN II).
    // tshark: erspan.version 1, erspan.vlan 23, erspan.cos 0, erspan.encap 1, erspan.truncated 0,
    //         erspan.spanid 100, erspan.index 0, gre.sequence_number 1796
    private static readonly byte[] ErspanIIFrame = Hex(
        "64 00 f1 e2 01 12 64 00 f1 e2 01 01 08 00 45 00 00 96 00 00 40 00 fe 2f 76 33 02 02 02 02 01 01"
        + "01 01 10 00 88 be 00 00 07 04 10 17 08 64 00 00 00 00");

    [Fact]
    public void Ethernet_ipv4_gre_and_erspan_ii_from_zeek_erspanII_frame_1()
    {
        Assert.Equal(DecapStatus.Ok, EthernetHeader.TryRead(ErspanIIFrame, out var eth));
        Assert.Equal(EthernetHeader.TypeIPv4, eth.EtherType);
        Assert.Equal(14, eth.HeaderLength);
        Assert.Equal(0, eth.TagCount);
        Assert.Equal(Hex("64 00 f1 e2 01 12"), eth.Destination.ToArray());

        Assert.Equal(DecapStatus.Ok, Ipv4Header.TryRead(ErspanIIFrame.AsSpan(14), out var ip));
        Assert.Equal(20, ip.HeaderLength);
        Assert.Equal(150, ip.TotalLength);
        Assert.Equal(Ipv4Header.ProtocolGre, ip.Protocol);
        Assert.True(ip.DontFragment);
        Assert.False(ip.IsFragment);
        Assert.Equal(new byte[] { 2, 2, 2, 2 }, ip.Source.ToArray());
        Assert.Equal(new byte[] { 1, 1, 1, 1 }, ip.Destination.ToArray());
        Assert.Equal(0, Ipv4Header.ComputeChecksum(ErspanIIFrame.AsSpan(14, 20)));

        Assert.Equal(DecapStatus.Ok, GreHeader.TryRead(ErspanIIFrame.AsSpan(34), out var gre));
        Assert.Equal(GreHeader.ProtocolErspanI_II, gre.ProtocolType);
        Assert.True(gre.SequencePresent);
        Assert.False(gre.KeyPresent);
        Assert.Equal(1796u, gre.SequenceNumber);
        Assert.Equal(8, gre.HeaderLength);

        Assert.Equal(DecapStatus.Ok, ErspanIIHeader.TryRead(ErspanIIFrame.AsSpan(42), out var erspan));
        Assert.Equal(1, erspan.Version);
        Assert.Equal(23, erspan.Vlan);
        Assert.Equal(0, erspan.Cos);
        Assert.Equal(1, erspan.En);
        Assert.False(erspan.Truncated);
        Assert.Equal(100, erspan.SessionId);
        Assert.Equal(0u, erspan.Index);
    }

    // arkime/gre-erspan-vxlan.pcap frame 1, bytes 0x22-0x31: GRE (S, seq 0) + ERSPAN II.
    // tshark: erspan.spanid 20; tcpdump-style index 1
    [Fact]
    public void Erspan_ii_from_arkime_gre_erspan_vxlan_frame_1()
    {
        var bytes = Hex("10 00 88 be 00 00 00 00 10 00 00 14 00 00 00 01");
        Assert.Equal(DecapStatus.Ok, GreHeader.TryRead(bytes, out var gre));
        Assert.Equal(0u, gre.SequenceNumber);
        Assert.Equal(DecapStatus.Ok, ErspanIIHeader.TryRead(bytes.AsSpan(8), out var erspan));
        Assert.Equal(20, erspan.SessionId);
        Assert.Equal(1u, erspan.Index);
        Assert.Equal(0, erspan.En);
    }

    // zeek/erspanIII.pcap frame 1, bytes 0x22-0x31: GRE (no flags, 0x22EB) + ERSPAN III.
    // tshark: erspan.version 2, vlan 20, cos 0, bso 0, spanid 0, timestamp 5208, sgt 0, p 1, ft 0, hw 3, direction 0, gra 0, o 0
    [Fact]
    public void Erspan_iii_from_zeek_erspanIII_frame_1()
    {
        var bytes = Hex("10 00 22 eb 03 b3 ed 5c 20 14 00 00 00 00 14 58 00 00 80 30");
        Assert.Equal(DecapStatus.Ok, GreHeader.TryRead(bytes, out var gre));
        Assert.Equal(GreHeader.ProtocolErspanIII, gre.ProtocolType);
        Assert.Equal(DecapStatus.Ok, ErspanIIIHeader.TryRead(bytes.AsSpan(8), out var erspan));
        Assert.Equal(2, erspan.Version);
        Assert.Equal(20, erspan.Vlan);
        Assert.Equal(0, erspan.Cos);
        Assert.Equal(0, erspan.Bso);
        Assert.Equal(0, erspan.SessionId);
        Assert.Equal(5208u, erspan.Timestamp);
        Assert.Equal(0, erspan.Sgt);
        Assert.True(erspan.P);
        Assert.Equal(0, erspan.FrameType);
        Assert.Equal(3, erspan.HardwareId);
        Assert.Equal(0, erspan.Direction);
        Assert.Equal(0, erspan.Granularity);
        Assert.False(erspan.O);
        Assert.Equal(12, erspan.HeaderLength);
    }

    // zeek/tunnels_gre-erspan3-dot1q.pcap frame 1, bytes 0x22-0x39: GRE + ERSPAN III with O=1 and platform subheader (platid 3).
    // tshark: erspan.spanid 0, erspan.direction 0, erspan.o 1, erspan.platid 3, erspan.vlan 10
    [Fact]
    public void Erspan_iii_with_platform_subheader_from_zeek_gre_erspan3_dot1q_frame_1()
    {
        var bytes = Hex("00 00 22 eb 20 0a 00 00 70 50 7e 55 00 00 00 07 0c 00 00 03 15 f7 42 e8");
        Assert.Equal(DecapStatus.Ok, ErspanIIIHeader.TryRead(bytes.AsSpan(4), out var erspan));
        Assert.Equal(10, erspan.Vlan);
        Assert.True(erspan.O);
        Assert.Equal(3, erspan.Granularity);
        Assert.Equal(20, erspan.HeaderLength);
        Assert.Equal(0x70507e55u, erspan.Timestamp);

        Assert.Equal(DecapStatus.Truncated, ErspanIIIHeader.TryRead(bytes.AsSpan(4, 19), out _));
    }

    // tcpdump/erspan-type-iii-pb-1.pcap frame 1 (raw IPv6), bytes 0x00-0x4e: IPv6, destination options (16 bytes),
    // GRE flags 0x1d00 (S, strict source route, recursion 5: no routing bit), ERSPAN III with O=1 cut short.
    // tcpdump: "GREv0, Flags [sequence# present, source routing present], seq 4280811777 ... erspan type3 ... [|erspan]"
    private static readonly byte[] PbFrame = Hex(
        "63 00 00 01 01 20 3c 01 41 20 74 67 17 00 42 00 01 43 01 00 7f 01 40 0e 45 91 bf d7 cd 87 00 d7"
        + "00 68 00 38 01 01 e8 00 2f 01 01 01 01 00 01 00 40 01 00 00 7f 00 00 00 1d 00 22 eb ff 28 01 01"
        + "2d 2d 08 00 48 00 08 46 01 00 00 01 3d 0e 45");

    [Fact]
    public void Ipv6_with_destination_options_gre_and_short_erspan_iii_from_tcpdump_pb_1()
    {
        Assert.Equal(DecapStatus.Ok, Ipv6Header.TryRead(PbFrame, out var ip));
        Assert.Equal(288, ip.PayloadLength);
        Assert.Equal(Ipv4Header.ProtocolGre, ip.NextHeader);
        Assert.Equal(1, ip.ExtensionCount);
        Assert.Equal(56, ip.HeaderLength);
        Assert.False(ip.IsFragment);

        Assert.Equal(DecapStatus.Ok, GreHeader.TryRead(PbFrame.AsSpan(56), out var gre));
        Assert.Equal(4280811777u, gre.SequenceNumber);
        Assert.Equal(GreHeader.ProtocolErspanIII, gre.ProtocolType);

        Assert.Equal(DecapStatus.Truncated, ErspanIIIHeader.TryRead(PbFrame.AsSpan(64), out var erspan));
        Assert.Equal(0, erspan.Vlan); // zeroed on failure
    }

    // packetnet/gre_all_options.pcap frame 1, bytes 0x22-0x31: GRE C+K+S.
    // tshark: gre.flags_and_version 0xb000, gre.checksum 0x6e7c, gre.key 0x0001d97c, gre.sequence_number 5, gre.proto 0x0800
    [Fact]
    public void Gre_with_checksum_key_and_sequence_from_packetnet_gre_all_options_frame_1()
    {
        var bytes = Hex("b0 00 08 00 6e 7c 00 00 00 01 d9 7c 00 00 00 05");
        Assert.Equal(DecapStatus.Ok, GreHeader.TryRead(bytes, out var gre));
        Assert.Equal(0xb000, gre.FlagsVersion);
        Assert.True(gre.ChecksumPresent);
        Assert.Equal(0x6e7c, gre.Checksum);
        Assert.Equal(0x0001d97cu, gre.Key);
        Assert.Equal(5u, gre.SequenceNumber);
        Assert.Equal(GreHeader.ProtocolIPv4, gre.ProtocolType);
        Assert.Equal(16, gre.HeaderLength);

        for (var cut = 0; cut < bytes.Length; cut++)
        {
            Assert.Equal(DecapStatus.Truncated, GreHeader.TryRead(bytes.AsSpan(0, cut), out _));
        }
    }

    [Fact]
    public void Gre_routing_and_versions_other_than_0_are_named_unsupported()
    {
        // tcpdump/gre-heapoverflow-2.pcap frame 2: flags 0xc030 (checksum + routing present)
        Assert.Equal(DecapStatus.GreRoutingUnsupported, GreHeader.TryRead(Hex("c0 30 30 30 30 30 30 30"), out _));
        // tcpdump/pptp.pcap: enhanced GRE version 1, protocol 0x880B (PPP), key present
        Assert.Equal(DecapStatus.GreVersionUnsupported, GreHeader.TryRead(Hex("30 01 88 0b 00 1c 00 00 00 00 00 01"), out var gre));
        Assert.Equal(0, gre.HeaderLength);
    }

    // tcpdump/vxlan.pcap frame 1, bytes 0x22-0x31: UDP + VXLAN.
    // tshark: udp.srcport 45149, udp.dstport 4789, udp.length 114, vxlan.flags 0x0800, vxlan.vni 100
    [Fact]
    public void Udp_and_vxlan_from_tcpdump_vxlan_frame_1()
    {
        var bytes = Hex("b0 5d 12 b5 00 72 00 00 08 00 00 00 00 00 64 00");
        Assert.Equal(DecapStatus.Ok, UdpHeader.TryRead(bytes, out var udp));
        Assert.Equal(45149, udp.SourcePort);
        Assert.Equal(4789, udp.DestinationPort);
        Assert.Equal(114, udp.Length);

        Assert.Equal(DecapStatus.Ok, VxlanHeader.TryRead(bytes.AsSpan(8), out var vxlan));
        Assert.Equal(100u, vxlan.Vni);
        Assert.Equal(VxlanHeader.IFlag, vxlan.Flags);
        Assert.False(vxlan.ReservedBitsSet);
    }

    [Fact]
    public void Vxlan_reserved_bits_and_missing_i_flag()
    {
        // suricata-verify/vxlan-non-zero-reserved-fields: reserved fields set; the reader only reports them
        Assert.Equal(DecapStatus.Ok, VxlanHeader.TryRead(Hex("08 00 00 01 00 00 64 ff"), out var vxlan));
        Assert.True(vxlan.ReservedBitsSet);
        Assert.Equal(DecapStatus.VxlanInvalidFlags, VxlanHeader.TryRead(Hex("00 00 00 00 00 00 64 00"), out _));
        Assert.Equal(DecapStatus.UdpBadLength, UdpHeader.TryRead(Hex("00 01 00 02 00 07 00 00"), out _));
    }

    // arkime/gre-erspan-vxlan.pcap frame 1, bytes 0x5c-0x63: VXLAN-GPE, flags 0x0c (I, P), next protocol 3 (Ethernet), VNI 0.
    [Fact]
    public void Vxlan_gpe_from_arkime_gre_erspan_vxlan_frame_1()
    {
        Assert.Equal(DecapStatus.Ok, VxlanGpeHeader.TryRead(Hex("0c 00 00 03 00 00 00 00"), out var gpe));
        Assert.Equal(VxlanGpeHeader.NextProtocolEthernet, gpe.NextProtocol);
        Assert.Equal(0u, gpe.Vni);
        Assert.True(gpe.VniValid);
        Assert.Equal(DecapStatus.VxlanGpeBadVersion, VxlanGpeHeader.TryRead(Hex("2c 00 00 03 00 00 00 00"), out _));
    }

    // tcpdump/geneve.pcap frame 1, bytes 0x2a-0x39: Geneve with one option.
    // tshark: geneve.version 0, geneve.proto_type 0x6558, geneve.vni 0x00000a, geneve.option.class 0x0000, geneve.option.type 0x80, geneve.option.length 8
    [Fact]
    public void Geneve_with_a_critical_option_from_tcpdump_geneve_frame_1()
    {
        var bytes = Hex("02 40 65 58 00 00 0a 00 00 00 80 01 00 00 00 0c");
        Assert.Equal(DecapStatus.Ok, GeneveHeader.TryRead(bytes, out var geneve));
        Assert.Equal(16, geneve.HeaderLength);
        Assert.Equal(0x6558, geneve.ProtocolType);
        Assert.Equal(0x0au, geneve.Vni);
        Assert.True(geneve.Critical);
        Assert.False(geneve.Control);
        var options = new List<(ushort, byte, int)>();
        foreach (var option in geneve.GetOptions())
        {
            options.Add((option.OptionClass, option.Type, option.Data.Length));
        }

        Assert.Equal([((ushort)0x0000, (byte)0x80, 4)], options);
    }

    [Fact]
    public void Geneve_bad_version_and_bad_option_length()
    {
        Assert.Equal(DecapStatus.GeneveBadVersion, GeneveHeader.TryRead(Hex("40 00 65 58 00 00 0a 00"), out _));
        // Opt Len 1 word, but the option claims 1 more word of data than the area holds.
        Assert.Equal(DecapStatus.GeneveBadOptionLength, GeneveHeader.TryRead(Hex("01 00 65 58 00 00 0a 00 01 08 01 01"), out var geneve));
        Assert.Equal(0, geneve.ProtocolType);
        // Opt Len 2 words, capture holds 1: truncated, not malformed.
        Assert.Equal(DecapStatus.Truncated, GeneveHeader.TryRead(Hex("02 00 65 58 00 00 0a 00 01 08 01 00"), out _));
    }

    // arkime/twovlan.pcap frame 1, bytes 0x00-0x15: two stacked 802.1Q tags.
    // tshark: vlan.id 201,200; vlan.etype 0x8100,0x0800
    [Fact]
    public void Ethernet_with_two_8021q_tags_from_arkime_twovlan_frame_1()
    {
        var bytes = Hex("00 09 0f db f4 3e 00 0c 29 c1 2d 24 81 00 00 c9 81 00 90 c8 08 00");
        Assert.Equal(DecapStatus.Ok, EthernetHeader.TryRead(bytes, out var eth));
        Assert.Equal(2, eth.TagCount);
        Assert.Equal(201, eth.FirstVlanId);
        Assert.Equal(EthernetHeader.TypeIPv4, eth.EtherType);
        Assert.Equal(22, eth.HeaderLength);

        var deep = new byte[12 + (9 * 4) + 2];
        for (var i = 0; i < 9; i++)
        {
            deep[12 + (i * 4)] = 0x81;
        }

        Assert.Equal(DecapStatus.EthernetTooManyVlanTags, EthernetHeader.TryRead(deep, out _));
    }

    // zeek/tunnels_geneve-ipv6.pcap frame 1, bytes 0x32-0x61: inner IPv6 after Geneve 0x86DD.
    // tshark: ipv6.src fd00::1, ipv6.dst fd00::2, ipv6.plen 13, ipv6.nxt 17
    [Fact]
    public void Ipv6_from_zeek_geneve_ipv6_frame_1()
    {
        var bytes = Hex("60 00 00 00 00 0d 11 40 fd 00 00 00 00 00 00 00 00 00 00 00 00 00 00 01 fd 00 00 00 00 00"
                        + "00 00 00 00 00 00 00 00 00 02");
        Assert.Equal(DecapStatus.Ok, Ipv6Header.TryRead(bytes, out var ip));
        Assert.Equal(13, ip.PayloadLength);
        Assert.Equal(17, ip.NextHeader);
        Assert.Equal(40, ip.HeaderLength);
        Assert.Equal(0xfd, ip.Source[0]);
        Assert.Equal(2, ip.Destination[15]);
    }

    [Fact]
    public void Ipv6_fragment_header_stops_the_walk_for_real_fragments_and_not_for_atomic_ones()
    {
        var fixedHeader = "60 00 00 00 00 10 2c 40" + string.Concat(Enumerable.Repeat(" 00", 32));
        // Fragment header: next 17, offset 185 (1480 bytes), M=1, id 0x01020304
        var fragment = Hex(fixedHeader + " 11 00 05 c9 01 02 03 04 00 00 00 00 00 00 00 00");
        Assert.Equal(DecapStatus.Ok, Ipv6Header.TryRead(fragment, out var ip));
        Assert.True(ip.IsFragment);
        Assert.Equal(1480, ip.FragmentOffset);
        Assert.True(ip.MoreFragments);
        Assert.Equal(0x01020304u, ip.Identification);
        Assert.Equal(17, ip.NextHeader);
        Assert.Equal(48, ip.HeaderLength);
        Assert.Equal(40, ip.FragmentHeaderOffset);
        Assert.Equal(Ipv6Header.NextHeaderOffset, ip.FragmentLinkOffset);

        var atomic = Hex(fixedHeader + " 3c 00 00 00 01 02 03 04 11 00 00 00 00 00 00 00");
        Assert.Equal(DecapStatus.Ok, Ipv6Header.TryRead(atomic, out var walked));
        Assert.False(walked.IsFragment);
        Assert.Equal(17, walked.NextHeader);
        Assert.Equal(56, walked.HeaderLength);
    }

    [Fact]
    public void Ipv4_bad_version_header_length_and_total_length_are_named()
    {
        // Synthetic: version nibble 3 (the corpus case, tcpdump/gre-heapoverflow-1.pcap frame 2, is checked in MalformedCorpusTests)
        Assert.Equal(DecapStatus.IpBadVersion, Ipv4Header.TryRead(Hex("30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30 30"), out _));
        Assert.Equal(DecapStatus.Ipv4BadHeaderLength, Ipv4Header.TryRead(Hex("44 00 00 14 00 00 00 00 40 11 00 00 01 02 03 04 05 06 07 08"), out _));
        Assert.Equal(DecapStatus.Ipv4BadTotalLength, Ipv4Header.TryRead(Hex("45 00 00 13 00 00 00 00 40 11 00 00 01 02 03 04 05 06 07 08"), out _));
        Assert.Equal(DecapStatus.Truncated, Ipv4Header.TryRead(Hex("46 00 00 40 00 00 00 00 40 11 00 00 01 02 03 04 05 06 07 08"), out var ip));
        Assert.Equal(0, ip.HeaderLength);
    }
}
