using System.Buffers.Binary;
using Fabric.Protocols.Decap;
using Fabric.Protocols.Flows;
using Fabric.Protocols.Tests.Decap;
using Xunit;

namespace Fabric.Protocols.Tests.Flows;

public sealed class FlowHasherTests
{
    private static readonly byte[] MacA = [0x0a, 0, 0, 0, 0, 1];
    private static readonly byte[] MacB = [0x0a, 0, 0, 0, 0, 2];

    /// <summary>Corpus captures whose inner frames carry IPv4 and IPv6, TCP and UDP, tunnelled and not.</summary>
    public static TheoryData<string> Captures => new()
    {
        "zeek/tunnels_vxlan-encapsulated-http.pcap",
        "zeek/erspanII.pcap",
        "zeek/tunnels_gre-sample.pcap",
        "tcpdump/geneve.pcap",
        "zeek/tunnels_geneve.pcap",
        "zeek/erspanIII.pcap",
    };

    [Theory]
    [MemberData(nameof(Captures))]
    public void Every_inner_frame_of_a_corpus_capture_hashes_as_its_reply_does(string capture)
    {
        var decapsulator = new Decapsulator(new DecapOptions());
        int compared = 0;
        foreach (var frame in CorpusCapture.Read(capture).Frames)
        {
            var buffer = frame.Data.ToArray();
            var status = decapsulator.Decapsulate(buffer, 0, buffer.Length, frame.OriginalLength, 0, out var result, out _);
            if (!DecapStatusInfo.Emits(status) || DecapStatusInfo.InReassemblyBuffer(status))
            {
                continue;
            }

            var inner = buffer.AsSpan(result.Offset, result.Length).ToArray();
            var reply = Reversed(inner);
            if (reply is null)
            {
                continue;
            }

            ulong hash = FlowHasher.Hash(inner, out var kind);
            Assert.True(hash == FlowHasher.Hash(reply, out var replyKind), $"{capture} frame {frame.Number}: {Convert.ToHexString(inner.AsSpan(0, Math.Min(64, inner.Length)))}");
            Assert.Equal(kind, replyKind);
            compared++;
        }

        Assert.True(compared > 0, $"{capture}: no IP frame compared");
    }

    [Fact]
    public void The_two_directions_of_ipv4_and_ipv6_tcp_and_udp_hash_the_same_and_other_flows_do_not()
    {
        foreach (bool v6 in new[] { false, true })
        {
            foreach (byte protocol in new byte[] { Ipv4Header.ProtocolTcp, Ipv4Header.ProtocolUdp })
            {
                var forward = Frame(v6, protocol, 1, 2, 40000, 443);
                var reply = Frame(v6, protocol, 2, 1, 443, 40000);
                Assert.Equal(FlowHasher.Hash(forward, out var kind), FlowHasher.Hash(reply));
                Assert.Equal(FlowKeyKind.FiveTuple, kind);
                Assert.NotEqual(FlowHasher.Hash(forward), FlowHasher.Hash(Frame(v6, protocol, 1, 2, 40001, 443)));
                Assert.NotEqual(FlowHasher.Hash(forward), FlowHasher.Hash(Frame(v6, protocol, 1, 3, 40000, 443)));
            }
        }
    }

    [Fact]
    public void Vlan_tags_are_skipped()
    {
        var plain = Frame(false, Ipv4Header.ProtocolUdp, 1, 2, 5000, 53);
        var tagged = new byte[plain.Length + 8];
        plain.AsSpan(0, 12).CopyTo(tagged);
        BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(12), EthernetHeader.TypeQinQ);
        BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(14), 100);
        BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(16), EthernetHeader.TypeVlan);
        BinaryPrimitives.WriteUInt16BigEndian(tagged.AsSpan(18), 200);
        plain.AsSpan(12).CopyTo(tagged.AsSpan(20));
        Assert.Equal(FlowHasher.Hash(plain), FlowHasher.Hash(tagged, out var kind));
        Assert.Equal(FlowKeyKind.FiveTuple, kind);
    }

    [Fact]
    public void Every_fragment_of_an_ipv4_datagram_hashes_on_the_ip_pair_so_they_stay_together()
    {
        var first = Frame(false, Ipv4Header.ProtocolUdp, 1, 2, 5000, 4789);
        BinaryPrimitives.WriteUInt16BigEndian(first.AsSpan(14 + Ipv4Header.FlagsFragmentOffset), 0x2000);
        var later = Frame(false, Ipv4Header.ProtocolUdp, 1, 2, 1234, 5678);
        BinaryPrimitives.WriteUInt16BigEndian(later.AsSpan(14 + Ipv4Header.FlagsFragmentOffset), 185);
        var laterReply = Frame(false, Ipv4Header.ProtocolUdp, 2, 1, 9, 9);
        BinaryPrimitives.WriteUInt16BigEndian(laterReply.AsSpan(14 + Ipv4Header.FlagsFragmentOffset), 0x2000 | 10);
        Assert.Equal(FlowHasher.Hash(first, out var kind), FlowHasher.Hash(later));
        Assert.Equal(FlowHasher.Hash(first), FlowHasher.Hash(laterReply));
        Assert.Equal(FlowKeyKind.IpPair, kind);
    }

    [Fact]
    public void Ipv6_extension_headers_are_walked_to_the_ports_and_a_fragment_header_means_the_ip_pair()
    {
        var plain = Frame(true, Ipv4Header.ProtocolTcp, 1, 2, 1000, 22);
        var hopByHop = WithExtension(plain, Ipv6Header.HopByHop);
        Assert.Equal(FlowHasher.Hash(plain), FlowHasher.Hash(hopByHop, out var kind));
        Assert.Equal(FlowKeyKind.FiveTuple, kind);

        var fragment = WithExtension(plain, Ipv6Header.Fragment);
        var otherPorts = WithExtension(Frame(true, Ipv4Header.ProtocolTcp, 2, 1, 7, 8), Ipv6Header.Fragment);
        Assert.Equal(FlowHasher.Hash(fragment, out kind), FlowHasher.Hash(otherPorts));
        Assert.Equal(FlowKeyKind.IpPair, kind);
    }

    [Fact]
    public void Non_ip_hashes_on_the_mac_pair_symmetrically_and_short_frames_do_not_throw()
    {
        var arp = new byte[42];
        MacA.CopyTo(arp, 0);
        MacB.CopyTo(arp, 6);
        BinaryPrimitives.WriteUInt16BigEndian(arp.AsSpan(12), EthernetHeader.TypeArp);
        var reply = arp.ToArray();
        MacB.CopyTo(reply, 0);
        MacA.CopyTo(reply, 6);
        Assert.Equal(FlowHasher.Hash(arp, out var kind), FlowHasher.Hash(reply));
        Assert.Equal(FlowKeyKind.MacPair, kind);

        var full = Frame(true, Ipv4Header.ProtocolTcp, 1, 2, 1000, 22);
        for (int length = 0; length <= full.Length; length++)
        {
            _ = FlowHasher.Hash(full.AsSpan(0, length));
        }
    }

    [Fact]
    public void Rendezvous_moves_only_the_flows_of_a_member_that_is_down_and_brings_them_back()
    {
        ulong[] seeds = [FlowHasher.Finish(11), FlowHasher.Finish(22), FlowHasher.Finish(33)];
        var random = new Random(7);
        var shares = new int[3];
        for (int i = 0; i < 30_000; i++)
        {
            ulong hash = FlowHasher.Finish((ulong)random.NextInt64());
            int own = FlowHasher.Rendezvous(hash, seeds, 0b111);
            shares[own]++;
            int withoutOne = FlowHasher.Rendezvous(hash, seeds, 0b101);
            if (own == 1)
            {
                Assert.NotEqual(1, withoutOne);
            }
            else
            {
                Assert.Equal(own, withoutOne);
            }

            Assert.Equal(own, FlowHasher.Rendezvous(hash, seeds, 0b111));
        }

        Assert.All(shares, s => Assert.InRange(s, 9_000, 11_000));
        Assert.Equal(-1, FlowHasher.Rendezvous(1, seeds, 0));
    }

    [Fact]
    public void Hashing_allocates_nothing()
    {
        var frame = Frame(true, Ipv4Header.ProtocolTcp, 1, 2, 1000, 22);
        Allocations.AssertNone(() =>
        {
            for (int i = 0; i < 1000; i++)
            {
                _ = FlowHasher.Hash(frame);
            }
        }, "FlowHasher.Hash");
    }

    /// <summary>An Ethernet frame from host <paramref name="from"/> to host <paramref name="to"/> with the ports given.</summary>
    private static byte[] Frame(bool v6, byte protocol, byte from, byte to, ushort sourcePort, ushort destinationPort)
    {
        int ipLength = v6 ? Ipv6Header.FixedLength : Ipv4Header.MinLength;
        var frame = new byte[14 + ipLength + 20];
        (from == 1 ? MacA : MacB).CopyTo(frame, 6);
        (from == 1 ? MacB : MacA).CopyTo(frame, 0);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), v6 ? EthernetHeader.TypeIPv6 : EthernetHeader.TypeIPv4);
        var ip = frame.AsSpan(14);
        if (v6)
        {
            ip[0] = 0x60;
            ip[Ipv6Header.NextHeaderOffset] = protocol;
            ip[Ipv6Header.SourceOffset] = 0x20;
            ip[Ipv6Header.SourceOffset + 15] = from;
            ip[Ipv6Header.DestinationOffset] = 0x20;
            ip[Ipv6Header.DestinationOffset + 15] = to;
        }
        else
        {
            ip[0] = 0x45;
            ip[Ipv4Header.ProtocolOffset] = protocol;
            byte[] source = [10, 0, 0, from], destination = [10, 0, 0, to];
            source.CopyTo(ip[Ipv4Header.SourceOffset..]);
            destination.CopyTo(ip[Ipv4Header.DestinationOffset..]);
        }

        BinaryPrimitives.WriteUInt16BigEndian(ip[ipLength..], sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(ip[(ipLength + 2)..], destinationPort);
        return frame;
    }

    /// <summary>The IPv6 frame with one 8-byte extension header of <paramref name="type"/> in front of its payload.</summary>
    private static byte[] WithExtension(byte[] frame, byte type)
    {
        const int Ip = 14;
        var result = new byte[frame.Length + 8];
        frame.AsSpan(0, Ip + Ipv6Header.FixedLength).CopyTo(result);
        result[Ip + Ipv6Header.NextHeaderOffset] = type;
        result[Ip + Ipv6Header.FixedLength] = frame[Ip + Ipv6Header.NextHeaderOffset];
        frame.AsSpan(Ip + Ipv6Header.FixedLength).CopyTo(result.AsSpan(Ip + Ipv6Header.FixedLength + 8));
        return result;
    }

    /// <summary>The same frame the other way (MACs, IPs and TCP/UDP ports swapped); null when not plain IPv4/IPv6
    /// behind at most one VLAN tag.</summary>
    private static byte[]? Reversed(byte[] frame)
    {
        if (frame.Length < 14)
        {
            return null;
        }

        var reply = frame.ToArray();
        frame.AsSpan(0, 6).CopyTo(reply.AsSpan(6));
        frame.AsSpan(6, 6).CopyTo(reply.AsSpan(0));
        int offset = 12;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(offset));
        if (type == EthernetHeader.TypeVlan)
        {
            offset += 4;
            type = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(offset));
        }

        int ip = offset + 2;
        int addressOffset, addressLength, transport;
        byte protocol;
        if (type == EthernetHeader.TypeIPv4 && frame.Length >= ip + 20)
        {
            (addressOffset, addressLength, protocol) = (Ipv4Header.SourceOffset, 4, frame[ip + Ipv4Header.ProtocolOffset]);
            transport = ip + ((frame[ip] & 0x0F) * 4);
        }
        else if (type == EthernetHeader.TypeIPv6 && frame.Length >= ip + 40)
        {
            (addressOffset, addressLength, protocol) = (Ipv6Header.SourceOffset, 16, frame[ip + Ipv6Header.NextHeaderOffset]);
            transport = ip + 40;
        }
        else
        {
            return null;
        }

        frame.AsSpan(ip + addressOffset, addressLength).CopyTo(reply.AsSpan(ip + addressOffset + addressLength));
        frame.AsSpan(ip + addressOffset + addressLength, addressLength).CopyTo(reply.AsSpan(ip + addressOffset));
        if (protocol is Ipv4Header.ProtocolTcp or Ipv4Header.ProtocolUdp && frame.Length >= transport + 4)
        {
            frame.AsSpan(transport, 2).CopyTo(reply.AsSpan(transport + 2));
            frame.AsSpan(transport + 2, 2).CopyTo(reply.AsSpan(transport));
        }

        return reply;
    }
}
