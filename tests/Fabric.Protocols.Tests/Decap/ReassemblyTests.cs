using System.Buffers.Binary;
using Fabric.Protocols.Decap;
using Fabric.Protocols.Encap;
using Xunit;

namespace Fabric.Protocols.Tests.Decap;

/// <summary>Outer IPv4/IPv6 fragments of tunnel packets: bounded reassembly and its named outcomes.</summary>
public class ReassemblyTests
{
    private const long Second = 1_000_000_000;

    /// <summary>Splits the outer IPv4 datagram of an Ethernet/IPv4 frame into fragments of at most <paramref name="chunk"/> data bytes.</summary>
    private static List<byte[]> FragmentIpv4(byte[] frame, int chunk, ushort identification = 77)
    {
        const int ip = EthernetHeader.MinLength;
        var data = frame.AsSpan(ip + Ipv4Header.MinLength).ToArray();
        var protocol = frame[ip + Ipv4Header.ProtocolOffset];
        var fragments = new List<byte[]>();
        for (var offset = 0; offset < data.Length; offset += chunk)
        {
            var length = Math.Min(chunk, data.Length - offset);
            var more = offset + length < data.Length;
            var fragment = new byte[ip + Ipv4Header.MinLength + length];
            frame.AsSpan(0, ip).CopyTo(fragment);
            HeaderWriter.WriteIpv4(fragment.AsSpan(ip), PacketBuilder.OuterSource, PacketBuilder.OuterDestination, protocol, length,
                identification: identification, dontFragment: false, fragmentOffset: offset, moreFragments: more);
            data.AsSpan(offset, length).CopyTo(fragment.AsSpan(ip + Ipv4Header.MinLength));
            fragments.Add(fragment);
        }

        return fragments;
    }

    /// <summary>An Ethernet/IPv6 frame whose payload (UDP...) is cut into fragments with a fragment header.</summary>
    private static List<byte[]> FragmentIpv6(byte[] upperLayer, byte nextHeader, int chunk, uint identification = 0xABCDEF)
    {
        var source = new byte[16];
        var destination = new byte[16];
        source[0] = 0x20;
        source[1] = 0x01;
        source[15] = 1;
        destination[0] = 0x20;
        destination[1] = 0x01;
        destination[15] = 2;
        var fragments = new List<byte[]>();
        for (var offset = 0; offset < upperLayer.Length; offset += chunk)
        {
            var length = Math.Min(chunk, upperLayer.Length - offset);
            var more = offset + length < upperLayer.Length;
            var fragment = new byte[14 + 40 + 8 + length];
            HeaderWriter.WriteEthernet(fragment, PacketBuilder.OuterDst, PacketBuilder.OuterSrc, EthernetHeader.TypeIPv6);
            HeaderWriter.WriteIpv6(fragment.AsSpan(14), source, destination, Ipv6Header.Fragment, 8 + length);
            fragment[54] = nextHeader;
            BinaryPrimitives.WriteUInt16BigEndian(fragment.AsSpan(56), (ushort)(offset | (more ? 1 : 0)));
            BinaryPrimitives.WriteUInt32BigEndian(fragment.AsSpan(58), identification);
            upperLayer.AsSpan(offset, length).CopyTo(fragment.AsSpan(62));
            fragments.Add(fragment);
        }

        return fragments;
    }

    private static DecapStatus Feed(Decapsulator decapsulator, byte[] fragment, long timestamp, out DecapResult result, out PacketMetadata md)
        => decapsulator.Decapsulate((byte[])fragment.Clone(), 0, fragment.Length, fragment.Length, timestamp, out result, out md);

    [Fact]
    public void Vxlan_over_fragmented_ipv4_is_reassembled_in_order_and_out_of_order()
    {
        var inner = PacketBuilder.InnerFrame(payloadLength: 4000);
        var fragments = FragmentIpv4(PacketBuilder.Vxlan(inner, vni: 31), 1480);
        Assert.Equal(3, fragments.Count);

        foreach (var order in new[] { new[] { 0, 1, 2 }, new[] { 2, 0, 1 }, new[] { 1, 2, 0 } })
        {
            var decapsulator = new Decapsulator(new DecapOptions());
            Assert.Equal(DecapStatus.FragmentHeld, Feed(decapsulator, fragments[order[0]], 0, out _, out _));
            Assert.Equal(DecapStatus.FragmentHeld, Feed(decapsulator, fragments[order[1]], 1, out _, out _));
            Assert.Equal(1, decapsulator.DatagramsInReassembly);

            Assert.Equal(DecapStatus.Reassembled, Feed(decapsulator, fragments[order[2]], 2, out var result, out var md));

            Assert.Equal(inner, decapsulator.ReassembledFrame.ToArray());
            Assert.Equal(inner.Length, result.OriginalLength);
            Assert.Equal(EncapKind.Vxlan, md.Layer(0));
            Assert.Equal(31u, md.Vni);
            Assert.Equal("192.0.2.1", md.OuterSourceAddress()!.ToString());
            Assert.Equal(0, decapsulator.DatagramsInReassembly);
        }
    }

    [Fact]
    public void Erspan_ii_over_fragmented_ipv4_is_reassembled()
    {
        // A 9000-byte mirrored jumbo frame crossing a 1500-byte path.
        var inner = PacketBuilder.InnerFrame(payloadLength: 8958);
        var fragments = FragmentIpv4(PacketBuilder.ErspanII(inner, PacketBuilder.DefaultErspanII), 1480);
        var decapsulator = new Decapsulator(new DecapOptions());
        var statuses = fragments.Select((f, i) => Feed(decapsulator, f, i, out _, out _)).ToArray();

        Assert.All(statuses[..^1], s => Assert.Equal(DecapStatus.FragmentHeld, s));
        Assert.Equal(DecapStatus.Reassembled, statuses[^1]);
        Assert.Equal(inner, decapsulator.ReassembledFrame.ToArray());
    }

    [Fact]
    public void Geneve_over_fragmented_ipv6_is_reassembled()
    {
        var inner = PacketBuilder.InnerFrame(payloadLength: 3000);
        var geneve = new byte[8];
        HeaderWriter.WriteGeneve(geneve, 5, EthernetHeader.TypeTransparentEthernetBridging);
        var udp = new byte[8 + geneve.Length + inner.Length];
        HeaderWriter.WriteUdp(udp, 1000, 6081, geneve.Length + inner.Length);
        geneve.CopyTo(udp, 8);
        inner.CopyTo(udp, 16);
        var fragments = FragmentIpv6(udp, Ipv4Header.ProtocolUdp, 1232);
        var decapsulator = new Decapsulator(new DecapOptions());

        var statuses = fragments.AsEnumerable().Reverse().Select((f, i) => Feed(decapsulator, f, i, out _, out _)).ToArray();

        Assert.Equal(DecapStatus.Reassembled, statuses[^1]);
        Assert.All(statuses[..^1], s => Assert.Equal(DecapStatus.FragmentHeld, s));
        Assert.Equal(inner, decapsulator.ReassembledFrame.ToArray());
    }

    [Fact]
    public void Duplicate_fragments_are_dropped_and_the_datagram_still_completes()
    {
        var inner = PacketBuilder.InnerFrame(payloadLength: 2000);
        var fragments = FragmentIpv4(PacketBuilder.Vxlan(inner), 1480);
        var decapsulator = new Decapsulator(new DecapOptions());

        Assert.Equal(DecapStatus.FragmentHeld, Feed(decapsulator, fragments[0], 0, out _, out _));
        Assert.Equal(DecapStatus.FragmentDuplicate, Feed(decapsulator, fragments[0], 0, out _, out _));
        Assert.Equal(DecapStatus.Reassembled, Feed(decapsulator, fragments[1], 0, out _, out _));
        Assert.Equal(inner, decapsulator.ReassembledFrame.ToArray());
    }

    [Fact]
    public void Overlapping_fragments_discard_the_datagram()
    {
        var frame = PacketBuilder.Vxlan(PacketBuilder.InnerFrame(payloadLength: 3000));
        var big = FragmentIpv4(frame, 1480);
        var small = FragmentIpv4(frame, 744);
        var decapsulator = new Decapsulator(new DecapOptions());

        Assert.Equal(DecapStatus.FragmentHeld, Feed(decapsulator, big[0], 0, out _, out _));   // bytes 0-1479
        Assert.Equal(DecapStatus.FragmentOverlap, Feed(decapsulator, small[1], 0, out _, out _)); // bytes 744-1487

        Assert.Equal(0, decapsulator.DatagramsInReassembly);
    }

    [Fact]
    public void Partial_datagrams_time_out_in_packet_time()
    {
        var fragments = FragmentIpv4(PacketBuilder.Vxlan(PacketBuilder.InnerFrame(payloadLength: 2000)), 1480);
        var decapsulator = new Decapsulator(new DecapOptions { ReassemblyTimeout = TimeSpan.FromSeconds(5) });

        Assert.Equal(DecapStatus.FragmentHeld, Feed(decapsulator, fragments[0], 10 * Second, out _, out _));
        Assert.Equal(DecapStatus.FragmentHeld, Feed(decapsulator, fragments[1], 16 * Second, out _, out _));

        Assert.Equal(1, decapsulator.ReassemblyTimeouts);
        Assert.Equal(1, decapsulator.DatagramsInReassembly);
    }

    [Fact]
    public void A_full_table_drops_new_datagrams_under_a_named_status()
    {
        var frame = PacketBuilder.Vxlan(PacketBuilder.InnerFrame(payloadLength: 2000));
        var first = FragmentIpv4(frame, 1480, identification: 1);
        var second = FragmentIpv4(frame, 1480, identification: 2);
        var decapsulator = new Decapsulator(new DecapOptions { ReassemblyMaxDatagrams = 1 });

        Assert.Equal(1, decapsulator.ReassemblyCapacity);
        Assert.Equal(DecapStatus.FragmentHeld, Feed(decapsulator, first[0], 0, out _, out _));
        Assert.Equal(DecapStatus.FragmentTableFull, Feed(decapsulator, second[0], 0, out _, out _));
        Assert.Equal(DecapStatus.Reassembled, Feed(decapsulator, first[1], 0, out _, out _));
    }

    [Fact]
    public void Memory_budget_limits_the_datagrams_held()
    {
        var decapsulator = new Decapsulator(new DecapOptions { ReassemblyMaxBytes = 3 * 65535, ReassemblyMaxDatagrams = 100 });

        Assert.Equal(3, decapsulator.ReassemblyCapacity);
    }

    [Fact]
    public void Datagrams_beyond_the_size_limit_are_too_large()
    {
        var fragments = FragmentIpv4(PacketBuilder.Vxlan(PacketBuilder.InnerFrame(payloadLength: 3000)), 1480);
        var decapsulator = new Decapsulator(new DecapOptions { ReassemblyMaxDatagramBytes = 2000 });

        Assert.Equal(DecapStatus.FragmentHeld, Feed(decapsulator, fragments[0], 0, out _, out _));
        Assert.Equal(DecapStatus.FragmentTooLarge, Feed(decapsulator, fragments[1], 0, out _, out _));
    }

    [Fact]
    public void A_non_last_fragment_not_a_multiple_of_8_is_a_bad_offset()
    {
        var fragments = FragmentIpv4(PacketBuilder.Vxlan(PacketBuilder.InnerFrame(payloadLength: 2000)), 1481);

        Assert.Equal(DecapStatus.FragmentBadOffset, Feed(new Decapsulator(new DecapOptions()), fragments[0], 0, out _, out _));
    }

    [Fact]
    public void A_truncated_capture_of_a_fragment_cannot_be_reassembled()
    {
        var fragment = FragmentIpv4(PacketBuilder.Vxlan(PacketBuilder.InnerFrame(payloadLength: 2000)), 1480)[0];

        var status = new Decapsulator(new DecapOptions()).Decapsulate(fragment, 0, 200, fragment.Length, 0, out _, out _);

        Assert.Equal(DecapStatus.FragmentTruncatedCapture, status);
    }

    [Fact]
    public void Fragments_of_non_tunnel_udp_are_passed_whole_after_reassembly_when_the_policy_is_pass()
    {
        var frame = PacketBuilder.OuterIpv4(Ipv4Header.ProtocolUdp, PacketBuilder.Udp(53, 3000), new byte[3000]);
        var fragments = FragmentIpv4(frame, 1480);
        var pass = new Decapsulator(new DecapOptions { NonEncapsulated = NonEncapsulatedPolicy.Pass });
        var drop = new Decapsulator(new DecapOptions());

        Assert.Equal(DecapStatus.FragmentHeld, Feed(pass, fragments[0], 0, out _, out _));
        Assert.Equal(DecapStatus.FragmentHeld, Feed(pass, fragments[1], 0, out _, out _));
        Assert.Equal(DecapStatus.ReassembledPassedThrough, Feed(pass, fragments[2], 0, out _, out _));
        var whole = pass.ReassembledFrame.ToArray();
        Assert.Equal(frame.Length, whole.Length);
        Assert.Equal(frame.AsSpan(34).ToArray(), whole.AsSpan(34).ToArray());
        Assert.Equal(DecapStatus.Ok, Ipv4Header.TryRead(whole.AsSpan(14), out var ip));
        Assert.Equal(frame.Length - 14, ip.TotalLength);
        Assert.False(ip.IsFragment);
        Assert.Equal(0, Ipv4Header.ComputeChecksum(whole.AsSpan(14, 20)));

        Feed(drop, fragments[0], 0, out _, out _);
        Feed(drop, fragments[1], 0, out _, out _);
        Assert.Equal(DecapStatus.NotEncapsulated, Feed(drop, fragments[2], 0, out _, out _));
    }

    [Fact]
    public void Fragments_of_protocols_that_cannot_carry_a_tunnel_are_not_held()
    {
        var frame = PacketBuilder.OuterIpv4(Ipv4Header.ProtocolTcp, new byte[3000]);
        var fragments = FragmentIpv4(frame, 1480);
        var decapsulator = new Decapsulator(new DecapOptions());

        Assert.All(fragments, f => Assert.Equal(DecapStatus.NotEncapsulated, Feed(decapsulator, f, 0, out _, out _)));
        Assert.Equal(0, decapsulator.DatagramsInReassembly);
    }

    [Fact]
    public void Reassembly_allocates_nothing_once_its_slots_are_warm()
    {
        var fragments = FragmentIpv4(PacketBuilder.Vxlan(PacketBuilder.InnerFrame(payloadLength: 4000)), 1480);
        var decapsulator = new Decapsulator(new DecapOptions());
        var buffers = fragments.Select(f => (byte[])f.Clone()).ToArray();
        foreach (var f in buffers)
        {
            decapsulator.Decapsulate(f, 0, f.Length, f.Length, 0, out _, out _);
        }

        Allocations.AssertNone(
            () =>
            {
                for (var round = 0; round < 200; round++)
                {
                    for (var i = 0; i < buffers.Length; i++)
                    {
                        fragments[i].CopyTo(buffers[i], 0);
                        decapsulator.Decapsulate(buffers[i], 0, buffers[i].Length, buffers[i].Length, round, out _, out _);
                    }
                }
            },
            "200 reassemblies");
    }
}
