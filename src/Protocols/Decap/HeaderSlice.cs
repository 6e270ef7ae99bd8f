namespace Fabric.Protocols.Decap;

/// <summary>Which header a header-relative slice counts from (<c>slice.after</c>).</summary>
public enum SliceAfter : byte
{
    /// <summary>After the Ethernet header and its 802.1Q/802.1ad tags.</summary>
    L2Header,
    /// <summary>After the IPv4 header (options included) or the IPv6 header and its extension headers.</summary>
    L3Header,
    /// <summary>After the TCP header (data offset), UDP (8), ICMP/ICMPv6 (8) or SCTP common header (12).</summary>
    L4Header,
}

/// <summary>
/// Header-relative slicing (issue 15 point 5): where to cut an inner Ethernet frame so that it keeps
/// <c>keep</c> bytes after the named header, e.g. <c>after = l4-header, keep = 64</c> keeps every header
/// and the first 64 payload bytes. Reads only; nothing allocated.
/// </summary>
public static class HeaderSlice
{
    private const byte ProtocolIcmp = 1;
    private const byte ProtocolIcmpV6 = 58;
    private const byte ProtocolSctp = 132;
    private const int TcpMinLength = 20;
    private const int TcpDataOffset = 12;
    private const int IcmpHeaderLength = 8;
    private const int SctpCommonHeaderLength = 12;

    /// <summary>The captured length to keep: the offset of the end of <paramref name="after"/>'s header plus
    /// <paramref name="keep"/>, at most the frame's length; -1 when that header cannot be parsed from the
    /// captured bytes (not IP, an IP fragment other than the first for L4, an L4 protocol without a known
    /// header, a header cut by the capture).</summary>
    public static int CutLength(ReadOnlySpan<byte> frame, SliceAfter after, int keep)
    {
        var end = HeaderEnd(frame, after);
        if (end < 0)
        {
            return -1;
        }

        return (int)Math.Min((long)end + keep, frame.Length);
    }

    /// <summary>Offset just after the named header, or -1.</summary>
    public static int HeaderEnd(ReadOnlySpan<byte> frame, SliceAfter after)
    {
        if (EthernetHeader.TryRead(frame, out var ethernet) != DecapStatus.Ok)
        {
            return -1;
        }

        var l3 = ethernet.HeaderLength;
        if (after == SliceAfter.L2Header)
        {
            return l3;
        }

        int l4;
        byte protocol;
        bool laterFragment;
        if (ethernet.EtherType == EthernetHeader.TypeIPv4)
        {
            if (Ipv4Header.TryRead(frame[l3..], out var ip) != DecapStatus.Ok)
            {
                return -1;
            }

            l4 = l3 + ip.HeaderLength;
            protocol = ip.Protocol;
            laterFragment = ip.FragmentOffset != 0;
        }
        else if (ethernet.EtherType == EthernetHeader.TypeIPv6)
        {
            if (Ipv6Header.TryRead(frame[l3..], out var ip) != DecapStatus.Ok)
            {
                return -1;
            }

            l4 = l3 + ip.HeaderLength;
            protocol = ip.NextHeader;
            laterFragment = ip.IsFragment && ip.FragmentOffset != 0;
        }
        else
        {
            return -1;
        }

        if (after == SliceAfter.L3Header)
        {
            return l4;
        }

        if (laterFragment)
        {
            return -1;
        }

        var rest = frame.Length - l4;
        var length = protocol switch
        {
            Ipv4Header.ProtocolTcp when rest >= TcpMinLength => (frame[l4 + TcpDataOffset] >> 4) * 4,
            Ipv4Header.ProtocolUdp => UdpHeader.HeaderLength,
            ProtocolIcmp or ProtocolIcmpV6 => IcmpHeaderLength,
            ProtocolSctp => SctpCommonHeaderLength,
            _ => -1,
        };
        if (length < (protocol == Ipv4Header.ProtocolTcp ? TcpMinLength : 1) || length > rest)
        {
            return -1;
        }

        return l4 + length;
    }
}
