using Fabric.Protocols.Decap;
using Fabric.Protocols.Encap;
using Xunit;

namespace Fabric.Protocols.Tests.Decap;

/// <summary>Header-relative slicing: where each header ends, and what cannot be parsed (-1).</summary>
public class HeaderSliceTests
{
    [Fact]
    public void Udp_frame_ends_its_headers_at_14_34_42()
    {
        var frame = PacketBuilder.InnerFrame(payloadLength: 100);

        Assert.Equal(14, HeaderSlice.HeaderEnd(frame, SliceAfter.L2Header));
        Assert.Equal(34, HeaderSlice.HeaderEnd(frame, SliceAfter.L3Header));
        Assert.Equal(42, HeaderSlice.HeaderEnd(frame, SliceAfter.L4Header));
        Assert.Equal(42 + 64, HeaderSlice.CutLength(frame, SliceAfter.L4Header, 64));
        Assert.Equal(frame.Length, HeaderSlice.CutLength(frame, SliceAfter.L4Header, 1000));
    }

    [Fact]
    public void Tagged_frame_counts_the_tag_and_tcp_its_data_offset()
    {
        // 802.1Q tag, IPv4 with 4 bytes of options (IHL 6), TCP with 12 bytes of options (data offset 8).
        var frame = new byte[18 + 24 + 32 + 10];
        HeaderWriter.WriteEthernet(frame, PacketBuilder.InnerDst, PacketBuilder.InnerSrc, EthernetHeader.TypeIPv4, [(ushort)100]);
        frame[18] = 0x46;
        frame[18 + 2] = 0;
        frame[18 + 3] = (byte)(24 + 32 + 10);
        frame[18 + 9] = Ipv4Header.ProtocolTcp;
        frame[18 + 24 + 12] = 8 << 4;

        Assert.Equal(18, HeaderSlice.HeaderEnd(frame, SliceAfter.L2Header));
        Assert.Equal(42, HeaderSlice.HeaderEnd(frame, SliceAfter.L3Header));
        Assert.Equal(74, HeaderSlice.HeaderEnd(frame, SliceAfter.L4Header));
    }

    [Fact]
    public void Arp_a_later_fragment_and_a_cut_tcp_header_cannot_be_sliced_after_l4()
    {
        var arp = new byte[42];
        HeaderWriter.WriteEthernet(arp, PacketBuilder.InnerDst, PacketBuilder.InnerSrc, EthernetHeader.TypeArp);
        var fragment = PacketBuilder.InnerFrame();
        fragment[14 + 6] = 0x00;
        fragment[14 + 7] = 0x10; // fragment offset 16 x 8 bytes: no L4 header here
        var tcp = PacketBuilder.InnerFrame();
        tcp[14 + 9] = Ipv4Header.ProtocolTcp; // 8 bytes after the IP header: shorter than a TCP header

        Assert.Equal(14, HeaderSlice.HeaderEnd(arp, SliceAfter.L2Header));
        Assert.Equal(-1, HeaderSlice.HeaderEnd(arp, SliceAfter.L3Header));
        Assert.Equal(34, HeaderSlice.HeaderEnd(fragment, SliceAfter.L3Header));
        Assert.Equal(-1, HeaderSlice.HeaderEnd(fragment, SliceAfter.L4Header));
        Assert.Equal(-1, HeaderSlice.CutLength(tcp[..(14 + 20 + 8)], SliceAfter.L4Header, 64));
    }

    [Fact]
    public void Every_prefix_is_refused_or_cut_within_it_never_an_exception()
    {
        var frame = PacketBuilder.InnerFrame(payloadLength: 40);
        for (var prefix = 0; prefix <= frame.Length; prefix++)
        {
            foreach (var after in new[] { SliceAfter.L2Header, SliceAfter.L3Header, SliceAfter.L4Header })
            {
                var cut = HeaderSlice.CutLength(frame.AsSpan(0, prefix), after, 8);
                Assert.True(cut == -1 || (cut >= 14 && cut <= prefix), $"prefix {prefix}, {after}: {cut}");
            }
        }
    }
}
