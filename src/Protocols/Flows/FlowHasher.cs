using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Fabric.Protocols.Decap;

namespace Fabric.Protocols.Flows;

/// <summary>What <see cref="FlowHasher.Hash"/> hashed a frame on.</summary>
public enum FlowKeyKind : byte
{
    /// <summary>IP addresses, protocol and TCP/UDP/SCTP ports (the 5-tuple).</summary>
    FiveTuple,

    /// <summary>IP addresses and protocol only: an IP fragment (first or later, so that every fragment of one
    /// datagram lands on the same member) or a protocol without ports (ICMP, ESP, GRE, ...).</summary>
    IpPair,

    /// <summary>The two MAC addresses: not IP (ARP, LLDP, ...), or an IP header too short to read.</summary>
    MacPair,
}

/// <summary>
/// A symmetric flow hash of an Ethernet frame (the inner frame, after decapsulation): both directions of a flow
/// hash the same, because the two endpoints (address and port) are put in a fixed order before hashing. IPv4
/// and IPv6 behind up to <see cref="EthernetHeader.MaxTags"/> VLAN tags; IPv6 extension headers (hop-by-hop,
/// routing, destination options, fragment) are walked to the transport header. Nothing is allocated; a frame
/// that cannot be parsed still gets a hash (of what could be read), never an error.
/// </summary>
public static class FlowHasher
{
    private const ulong Multiplier = 0x9E3779B97F4A7C15UL;
    private const byte ProtocolSctp = 132;
    private const byte DestinationOptions = 60;
    private const ushort MoreFragmentsAndOffset = 0x3FFF;

    /// <summary>The symmetric hash of <paramref name="frame"/> (an Ethernet frame).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Hash(ReadOnlySpan<byte> frame) => Hash(frame, out _);

    /// <summary>The symmetric hash of <paramref name="frame"/>, and what it was computed on.</summary>
    public static ulong Hash(ReadOnlySpan<byte> frame, out FlowKeyKind kind)
    {
        if ((uint)frame.Length < EthernetHeader.MinLength)
        {
            kind = FlowKeyKind.MacPair;
            return MacPair(frame);
        }

        int offset = EthernetHeader.TypeOffset;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame[offset..]);
        for (int tags = 0; tags < EthernetHeader.MaxTags && type is EthernetHeader.TypeVlan or EthernetHeader.TypeQinQ or EthernetHeader.TypeQinQLegacy; tags++)
        {
            offset += EthernetHeader.TagLength;
            if ((uint)frame.Length < (uint)(offset + 2))
            {
                kind = FlowKeyKind.MacPair;
                return MacPair(frame);
            }

            type = BinaryPrimitives.ReadUInt16BigEndian(frame[offset..]);
        }

        var ip = frame[(offset + 2)..];
        if (type == EthernetHeader.TypeIPv4 && ip.Length >= Ipv4Header.MinLength && ip[0] >> 4 == 4)
        {
            kind = FlowKeyKind.IpPair;
            return HashIpv4(ip, ref kind);
        }

        if (type == EthernetHeader.TypeIPv6 && ip.Length >= Ipv6Header.FixedLength && ip[0] >> 4 == 6)
        {
            kind = FlowKeyKind.IpPair;
            return HashIpv6(ip, ref kind);
        }

        kind = FlowKeyKind.MacPair;
        return MacPair(frame);
    }

    private static ulong HashIpv4(ReadOnlySpan<byte> ip, ref FlowKeyKind kind)
    {
        uint source = BinaryPrimitives.ReadUInt32BigEndian(ip[Ipv4Header.SourceOffset..]);
        uint destination = BinaryPrimitives.ReadUInt32BigEndian(ip[Ipv4Header.DestinationOffset..]);
        byte protocol = ip[Ipv4Header.ProtocolOffset];
        int headerLength = (ip[0] & 0x0F) * 4;
        bool fragment = (BinaryPrimitives.ReadUInt16BigEndian(ip[Ipv4Header.FlagsFragmentOffset..]) & MoreFragmentsAndOffset) != 0;
        uint ports = 0;
        if (!fragment && headerLength >= Ipv4Header.MinLength && TryPorts(ip, headerLength, protocol, out uint sourcePort, out uint destinationPort))
        {
            kind = FlowKeyKind.FiveTuple;
            ulong a = ((ulong)source << 16) | sourcePort;
            ulong b = ((ulong)destination << 16) | destinationPort;
            (source, destination) = a <= b ? (source, destination) : (destination, source);
            ports = a <= b ? (sourcePort << 16) | destinationPort : (destinationPort << 16) | sourcePort;
        }
        else if (source > destination)
        {
            (source, destination) = (destination, source);
        }

        return Mix(((ulong)source << 32) | destination, ((ulong)protocol << 32) | ports);
    }

    private static ulong HashIpv6(ReadOnlySpan<byte> ip, ref FlowKeyKind kind)
    {
        ulong sourceHigh = BinaryPrimitives.ReadUInt64BigEndian(ip[Ipv6Header.SourceOffset..]);
        ulong sourceLow = BinaryPrimitives.ReadUInt64BigEndian(ip[(Ipv6Header.SourceOffset + 8)..]);
        ulong destinationHigh = BinaryPrimitives.ReadUInt64BigEndian(ip[Ipv6Header.DestinationOffset..]);
        ulong destinationLow = BinaryPrimitives.ReadUInt64BigEndian(ip[(Ipv6Header.DestinationOffset + 8)..]);
        byte next = ip[Ipv6Header.NextHeaderOffset];
        int offset = Ipv6Header.FixedLength;
        bool fragment = false;
        for (int i = 0; i < Ipv6Header.MaxExtensionHeaders; i++)
        {
            if (next is Ipv6Header.HopByHop or Ipv6Header.Routing or DestinationOptions)
            {
                if ((uint)ip.Length < (uint)(offset + 2))
                {
                    break;
                }

                next = ip[offset];
                offset += (ip[offset + 1] + 1) * 8;
            }
            else if (next == Ipv6Header.Fragment)
            {
                fragment = true;
                if ((uint)ip.Length >= (uint)(offset + 1))
                {
                    next = ip[offset];
                }

                break;
            }
            else
            {
                break;
            }
        }

        int order = Compare(sourceHigh, sourceLow, destinationHigh, destinationLow);
        uint ports = 0;
        if (!fragment && TryPorts(ip, offset, next, out uint sourcePort, out uint destinationPort))
        {
            kind = FlowKeyKind.FiveTuple;
            if (order == 0)
            {
                order = sourcePort.CompareTo(destinationPort);
            }

            ports = order <= 0 ? (sourcePort << 16) | destinationPort : (destinationPort << 16) | sourcePort;
        }

        if (order > 0)
        {
            (sourceHigh, destinationHigh) = (destinationHigh, sourceHigh);
            (sourceLow, destinationLow) = (destinationLow, sourceLow);
        }

        ulong h = Mix(sourceHigh, sourceLow);
        h = Mix(h ^ destinationHigh, destinationLow);
        return Mix(h, ((ulong)next << 32) | ports);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryPorts(ReadOnlySpan<byte> ip, int offset, byte protocol, out uint sourcePort, out uint destinationPort)
    {
        if (protocol is Ipv4Header.ProtocolTcp or Ipv4Header.ProtocolUdp or ProtocolSctp && (uint)ip.Length >= (uint)(offset + 4))
        {
            sourcePort = BinaryPrimitives.ReadUInt16BigEndian(ip[offset..]);
            destinationPort = BinaryPrimitives.ReadUInt16BigEndian(ip[(offset + 2)..]);
            return true;
        }

        sourcePort = destinationPort = 0;
        return false;
    }

    private static int Compare(ulong aHigh, ulong aLow, ulong bHigh, ulong bLow) =>
        aHigh != bHigh ? aHigh.CompareTo(bHigh) : aLow.CompareTo(bLow);

    private static ulong MacPair(ReadOnlySpan<byte> frame)
    {
        if ((uint)frame.Length < 2 * EthernetHeader.MacLength)
        {
            ulong h = 0;
            foreach (byte b in frame)
            {
                h = (h << 8) | b;
            }

            return Finish(Mix(h, (ulong)frame.Length));
        }

        ulong destination = ReadMac(frame);
        ulong source = ReadMac(frame[EthernetHeader.SourceOffset..]);
        return Finish(destination <= source ? Mix(destination, source) : Mix(source, destination));
    }

    private static ulong ReadMac(ReadOnlySpan<byte> mac) =>
        ((ulong)BinaryPrimitives.ReadUInt16BigEndian(mac) << 32) | BinaryPrimitives.ReadUInt32BigEndian(mac[2..]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mix(ulong a, ulong b)
    {
        ulong high = Math.BigMul(a ^ Multiplier, b ^ 0xD6E8FEB86659FD93UL, out ulong low);
        return high ^ low;
    }

    /// <summary>A 64-bit finaliser (murmur3's fmix64): every input bit affects every output bit.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Finish(ulong h)
    {
        h ^= h >> 33;
        h *= 0xFF51AFD7ED558CCDUL;
        h ^= h >> 33;
        h *= 0xC4CEB9FE1A85EC53UL;
        h ^= h >> 33;
        return h;
    }

    /// <summary>
    /// Rendezvous (highest random weight) choice: the member with the highest weight for <paramref name="hash"/>
    /// among those whose bit is set in <paramref name="up"/>; -1 when none is. A member going down moves only the
    /// flows whose highest weight was its own, and they come back when it does.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int Rendezvous(ulong hash, ReadOnlySpan<ulong> seeds, ulong up)
    {
        int best = -1;
        ulong bestWeight = 0;
        for (int i = 0; i < seeds.Length; i++)
        {
            ulong weight = Weight(hash, seeds[i]);
            if ((up & (1UL << i)) != 0 && (best < 0 || weight > bestWeight))
            {
                best = i;
                bestWeight = weight;
            }
        }

        return best;
    }

    /// <summary>The rendezvous weight of member seed <paramref name="seed"/> for <paramref name="hash"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Weight(ulong hash, ulong seed)
    {
        ulong high = Math.BigMul(hash ^ seed, 0x9FB21C651E98DF25UL, out ulong low);
        return high ^ low;
    }
}
