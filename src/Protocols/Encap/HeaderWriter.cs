using System.Buffers.Binary;
using Fabric.Protocols.Decap;

namespace Fabric.Protocols.Encap;

/// <summary>ERSPAN Type II fields (draft-foschiano-erspan-03 section 4.1).</summary>
public readonly record struct ErspanIIFields(ushort SessionId, ushort Vlan, byte Cos, byte En, bool Truncated, uint Index);

/// <summary>ERSPAN Type III fields (draft-foschiano-erspan-03 section 4.2).</summary>
public readonly record struct ErspanIIIFields(
    ushort SessionId, ushort Vlan, byte Cos, byte Bso, bool Truncated, uint Timestamp, ushort Sgt, bool P,
    byte FrameType, byte HardwareId, byte Direction, byte Granularity, ulong? PlatformSubheader);

/// <summary>
/// Writers for the headers the readers in <see cref="Fabric.Protocols.Decap"/> decode, one method
/// per header, each the exact inverse of its reader (round-trip tested). Each returns the bytes
/// written, or 0 when <c>destination</c> is too short (nothing written then).
/// </summary>
public static class HeaderWriter
{
    /// <summary>Ethernet II with optional 802.1Q tags (outermost first, as TCIs).</summary>
    public static int WriteEthernet(Span<byte> destination, MacAddress destinationMac, MacAddress sourceMac, ushort etherType,
        ReadOnlySpan<ushort> tags = default, ushort tagProtocol = EthernetHeader.TypeVlan)
    {
        var length = EthernetHeader.MinLength + (tags.Length * EthernetHeader.TagLength);
        if (destination.Length < length)
        {
            return 0;
        }

        destinationMac.WriteTo(destination[EthernetHeader.DestinationOffset..]);
        sourceMac.WriteTo(destination[EthernetHeader.SourceOffset..]);
        var offset = EthernetHeader.TypeOffset;
        foreach (var tci in tags)
        {
            BinaryPrimitives.WriteUInt16BigEndian(destination[offset..], tagProtocol);
            BinaryPrimitives.WriteUInt16BigEndian(destination[(offset + 2)..], tci);
            offset += EthernetHeader.TagLength;
        }

        BinaryPrimitives.WriteUInt16BigEndian(destination[offset..], etherType);
        return length;
    }

    /// <summary>IPv4 header without options, checksum computed.</summary>
    public static int WriteIpv4(Span<byte> destination, ReadOnlySpan<byte> source, ReadOnlySpan<byte> destinationAddress,
        byte protocol, int payloadLength, byte ttl = 64, byte tos = 0, ushort identification = 0, bool dontFragment = true,
        int fragmentOffset = 0, bool moreFragments = false)
    {
        var total = Ipv4Header.MinLength + payloadLength;
        if (destination.Length < Ipv4Header.MinLength || total > 65535 || source.Length != 4 || destinationAddress.Length != 4)
        {
            return 0;
        }

        var header = destination[..Ipv4Header.MinLength];
        header[Ipv4Header.VersionIhlOffset] = 0x45;
        header[1] = tos;
        BinaryPrimitives.WriteUInt16BigEndian(header[Ipv4Header.TotalLengthOffset..], (ushort)total);
        BinaryPrimitives.WriteUInt16BigEndian(header[Ipv4Header.IdentificationOffset..], identification);
        var flags = (ushort)((dontFragment ? 0x4000 : 0) | (moreFragments ? 0x2000 : 0) | ((fragmentOffset >> 3) & 0x1FFF));
        BinaryPrimitives.WriteUInt16BigEndian(header[Ipv4Header.FlagsFragmentOffset..], flags);
        header[Ipv4Header.TtlOffset] = ttl;
        header[Ipv4Header.ProtocolOffset] = protocol;
        BinaryPrimitives.WriteUInt16BigEndian(header[Ipv4Header.ChecksumOffset..], 0);
        source.CopyTo(header[Ipv4Header.SourceOffset..]);
        destinationAddress.CopyTo(header[Ipv4Header.DestinationOffset..]);
        BinaryPrimitives.WriteUInt16BigEndian(header[Ipv4Header.ChecksumOffset..], Ipv4Header.ComputeChecksum(header));
        return Ipv4Header.MinLength;
    }

    /// <summary>IPv6 fixed header (no extension headers).</summary>
    public static int WriteIpv6(Span<byte> destination, ReadOnlySpan<byte> source, ReadOnlySpan<byte> destinationAddress,
        byte nextHeader, int payloadLength, byte hopLimit = 64, uint flowLabel = 0)
    {
        if (destination.Length < Ipv6Header.FixedLength || payloadLength > 65535 || source.Length != 16 || destinationAddress.Length != 16)
        {
            return 0;
        }

        BinaryPrimitives.WriteUInt32BigEndian(destination, 0x6000_0000u | (flowLabel & 0xFFFFF));
        BinaryPrimitives.WriteUInt16BigEndian(destination[Ipv6Header.PayloadLengthOffset..], (ushort)payloadLength);
        destination[Ipv6Header.NextHeaderOffset] = nextHeader;
        destination[Ipv6Header.HopLimitOffset] = hopLimit;
        source.CopyTo(destination[Ipv6Header.SourceOffset..]);
        destinationAddress.CopyTo(destination[Ipv6Header.DestinationOffset..]);
        return Ipv6Header.FixedLength;
    }

    /// <summary>UDP header; checksum 0 (allowed for IPv4 and, for tunnels, IPv6 per RFC 6935).</summary>
    public static int WriteUdp(Span<byte> destination, ushort sourcePort, ushort destinationPort, int payloadLength)
    {
        var length = UdpHeader.HeaderLength + payloadLength;
        if (destination.Length < UdpHeader.HeaderLength || length > 65535)
        {
            return 0;
        }

        BinaryPrimitives.WriteUInt16BigEndian(destination[UdpHeader.SourcePortOffset..], sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(destination[UdpHeader.DestinationPortOffset..], destinationPort);
        BinaryPrimitives.WriteUInt16BigEndian(destination[UdpHeader.LengthOffset..], (ushort)length);
        BinaryPrimitives.WriteUInt16BigEndian(destination[UdpHeader.ChecksumOffset..], 0);
        return UdpHeader.HeaderLength;
    }

    /// <summary>GRE version 0 with the optional checksum (value as given), key and sequence words.</summary>
    public static int WriteGre(Span<byte> destination, ushort protocolType, uint? key = null, uint? sequence = null, ushort? checksum = null)
    {
        var length = GreHeader.BaseLength + (key.HasValue ? 4 : 0) + (sequence.HasValue ? 4 : 0) + (checksum.HasValue ? 4 : 0);
        if (destination.Length < length)
        {
            return 0;
        }

        var flags = (ushort)((checksum.HasValue ? GreHeader.ChecksumPresentFlag : 0)
                             | (key.HasValue ? GreHeader.KeyPresentFlag : 0)
                             | (sequence.HasValue ? GreHeader.SequencePresentFlag : 0));
        BinaryPrimitives.WriteUInt16BigEndian(destination, flags);
        BinaryPrimitives.WriteUInt16BigEndian(destination[GreHeader.ProtocolTypeOffset..], protocolType);
        var offset = GreHeader.BaseLength;
        if (checksum.HasValue)
        {
            BinaryPrimitives.WriteUInt16BigEndian(destination[offset..], checksum.Value);
            BinaryPrimitives.WriteUInt16BigEndian(destination[(offset + 2)..], 0);
            offset += 4;
        }

        if (key.HasValue)
        {
            BinaryPrimitives.WriteUInt32BigEndian(destination[offset..], key.Value);
            offset += 4;
        }

        if (sequence.HasValue)
        {
            BinaryPrimitives.WriteUInt32BigEndian(destination[offset..], sequence.Value);
        }

        return length;
    }

    /// <summary>ERSPAN Type II header (8 bytes, version 1).</summary>
    public static int WriteErspanII(Span<byte> destination, in ErspanIIFields fields)
    {
        if (destination.Length < ErspanIIHeader.HeaderLength)
        {
            return 0;
        }

        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)((ErspanIIHeader.ExpectedVersion << 12) | (fields.Vlan & 0x0FFF)));
        BinaryPrimitives.WriteUInt16BigEndian(destination[ErspanIIHeader.CosEnTSessionOffset..],
            (ushort)(((fields.Cos & 0x7) << 13) | ((fields.En & 0x3) << 11) | (fields.Truncated ? 0x0400 : 0) | (fields.SessionId & 0x03FF)));
        BinaryPrimitives.WriteUInt32BigEndian(destination[ErspanIIHeader.ReservedIndexOffset..], fields.Index & 0x000F_FFFF);
        return ErspanIIHeader.HeaderLength;
    }

    /// <summary>ERSPAN Type III header (12 bytes, version 2; 20 with a platform subheader).</summary>
    public static int WriteErspanIII(Span<byte> destination, in ErspanIIIFields fields)
    {
        var length = ErspanIIIHeader.BaseLength + (fields.PlatformSubheader.HasValue ? ErspanIIIHeader.PlatformSubheaderLength : 0);
        if (destination.Length < length)
        {
            return 0;
        }

        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)((ErspanIIIHeader.ExpectedVersion << 12) | (fields.Vlan & 0x0FFF)));
        BinaryPrimitives.WriteUInt16BigEndian(destination[ErspanIIIHeader.CosBsoTSessionOffset..],
            (ushort)(((fields.Cos & 0x7) << 13) | ((fields.Bso & 0x3) << 11) | (fields.Truncated ? 0x0400 : 0) | (fields.SessionId & 0x03FF)));
        BinaryPrimitives.WriteUInt32BigEndian(destination[ErspanIIIHeader.TimestampOffset..], fields.Timestamp);
        BinaryPrimitives.WriteUInt16BigEndian(destination[ErspanIIIHeader.SgtOffset..], fields.Sgt);
        BinaryPrimitives.WriteUInt16BigEndian(destination[ErspanIIIHeader.FlagsOffset..],
            (ushort)((fields.P ? 0x8000 : 0) | ((fields.FrameType & 0x1F) << 10) | ((fields.HardwareId & 0x3F) << 4)
                     | ((fields.Direction & 0x1) << 3) | ((fields.Granularity & 0x3) << 1) | (fields.PlatformSubheader.HasValue ? 1 : 0)));
        if (fields.PlatformSubheader.HasValue)
        {
            BinaryPrimitives.WriteUInt64BigEndian(destination[ErspanIIIHeader.BaseLength..], fields.PlatformSubheader.Value);
        }

        return length;
    }

    /// <summary>VXLAN header: I flag plus <paramref name="extraFlags"/>, 24-bit VNI.</summary>
    public static int WriteVxlan(Span<byte> destination, uint vni, byte extraFlags = 0)
    {
        if (destination.Length < VxlanHeader.HeaderLength)
        {
            return 0;
        }

        BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)(VxlanHeader.IFlag | extraFlags) << 24);
        BinaryPrimitives.WriteUInt32BigEndian(destination[VxlanHeader.VniOffset..], (vni & 0xFFFFFF) << 8);
        return VxlanHeader.HeaderLength;
    }

    /// <summary>VXLAN-GPE header: I and P flags, next protocol, 24-bit VNI.</summary>
    public static int WriteVxlanGpe(Span<byte> destination, uint vni, byte nextProtocol)
    {
        if (destination.Length < VxlanGpeHeader.HeaderLength)
        {
            return 0;
        }

        BinaryPrimitives.WriteUInt32BigEndian(destination, ((uint)(VxlanGpeHeader.IFlag | VxlanGpeHeader.PFlag) << 24) | nextProtocol);
        BinaryPrimitives.WriteUInt32BigEndian(destination[VxlanGpeHeader.VniOffset..], (vni & 0xFFFFFF) << 8);
        return VxlanGpeHeader.HeaderLength;
    }

    /// <summary>Geneve header with already-encoded options (<paramref name="options"/>, a multiple of 4 bytes).</summary>
    public static int WriteGeneve(Span<byte> destination, uint vni, ushort protocolType, ReadOnlySpan<byte> options = default,
        bool control = false, bool critical = false)
    {
        var length = GeneveHeader.BaseLength + options.Length;
        if (destination.Length < length || (options.Length & 3) != 0 || options.Length > 63 * 4)
        {
            return 0;
        }

        destination[GeneveHeader.VersionOptLenOffset] = (byte)(options.Length >> 2);
        destination[GeneveHeader.FlagsOffset] = (byte)((control ? GeneveHeader.OFlag : 0) | (critical ? GeneveHeader.CFlag : 0));
        BinaryPrimitives.WriteUInt16BigEndian(destination[GeneveHeader.ProtocolTypeOffset..], protocolType);
        BinaryPrimitives.WriteUInt32BigEndian(destination[GeneveHeader.VniOffset..], (vni & 0xFFFFFF) << 8);
        options.CopyTo(destination[GeneveHeader.BaseLength..]);
        return length;
    }

    /// <summary>One Geneve option TLV (data a multiple of 4 bytes, at most 124).</summary>
    public static int WriteGeneveOption(Span<byte> destination, ushort optionClass, byte type, ReadOnlySpan<byte> data)
    {
        var length = GeneveHeader.OptionHeaderLength + data.Length;
        if (destination.Length < length || (data.Length & 3) != 0 || data.Length > 31 * 4)
        {
            return 0;
        }

        BinaryPrimitives.WriteUInt16BigEndian(destination, optionClass);
        destination[2] = type;
        destination[3] = (byte)(data.Length >> 2);
        data.CopyTo(destination[GeneveHeader.OptionHeaderLength..]);
        return length;
    }
}
