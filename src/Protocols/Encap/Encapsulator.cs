using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Fabric.Protocols.Decap;

namespace Fabric.Protocols.Encap;

/// <summary>The tunnel a <see cref="Encapsulator"/> writes.</summary>
public enum EncapsulationType : byte
{
    /// <summary>IPv4 / UDP / VXLAN (RFC 7348) / inner Ethernet.</summary>
    Vxlan = 0,
    /// <summary>IPv4 / GRE with key, protocol 0x6558 (transparent Ethernet bridging) / inner Ethernet.</summary>
    Gre = 1,
    /// <summary>IPv4 / GRE with sequence, 0x88BE / ERSPAN Type II / inner Ethernet.</summary>
    ErspanII = 2,
    /// <summary>IPv4 / GRE with sequence, 0x22EB / ERSPAN Type III (frame type Ethernet) / inner Ethernet.</summary>
    ErspanIII = 3,
}

/// <summary>Which outer headers the encapsulator writes.</summary>
public enum OuterHeaders : byte
{
    /// <summary>Ethernet, IPv4, then the tunnel headers (for a TAP or an AF_PACKET socket).</summary>
    Ethernet = 0,
    /// <summary>IPv4, then the tunnel headers (for a raw IP socket with IP_HDRINCL).</summary>
    Ip = 1,
    /// <summary>Only what follows the IP header: UDP is also left out for VXLAN (for a UDP socket);
    /// GRE (+ ERSPAN) is written (for a raw IPPROTO_GRE socket).</summary>
    Tunnel = 2,
}

/// <summary>Settings of one <see cref="Encapsulator"/> (a forwarder sink's HOCON maps onto it).</summary>
public sealed class EncapOptions
{
    public EncapsulationType Type { get; set; } = EncapsulationType.Vxlan;

    public OuterHeaders Outer { get; set; } = OuterHeaders.Ethernet;

    public MacAddress SourceMac { get; set; } = MacAddress.Parse("02:00:00:00:00:02");

    public MacAddress DestinationMac { get; set; } = MacAddress.Parse("02:00:00:00:00:01");

    /// <summary>Outer IPv4 source address.</summary>
    public IPAddress SourceAddress { get; set; } = IPAddress.Loopback;

    /// <summary>Outer IPv4 destination address (the collector).</summary>
    public IPAddress DestinationAddress { get; set; } = IPAddress.Loopback;

    public byte Ttl { get; set; } = 64;

    /// <summary>IPv4 type of service byte (DSCP &lt;&lt; 2).</summary>
    public byte Tos { get; set; }

    /// <summary>Set DF on the outer IPv4 header.</summary>
    public bool DontFragment { get; set; } = true;

    /// <summary>VXLAN UDP destination port.</summary>
    public ushort UdpDestinationPort { get; set; } = 4789;

    /// <summary>VXLAN UDP source port; 0 derives it per packet from a hash of the inner MACs and
    /// EtherType (RFC 7348 section 5: entropy for ECMP), in 49152-65535.</summary>
    public ushort UdpSourcePort { get; set; }

    /// <summary>VXLAN VNI (24 bits).</summary>
    public uint Vni { get; set; }

    /// <summary>GRE key (for <see cref="EncapsulationType.Gre"/>); null writes no key.</summary>
    public uint? GreKey { get; set; }

    /// <summary>ERSPAN session id (10 bits).</summary>
    public ushort ErspanSessionId { get; set; }

    /// <summary>ERSPAN VLAN (12 bits).</summary>
    public ushort ErspanVlan { get; set; }

    /// <summary>ERSPAN class of service (3 bits).</summary>
    public byte ErspanCos { get; set; }

    /// <summary>ERSPAN II En field (0 untagged, 3 tag preserved in the frame).</summary>
    public byte ErspanEn { get; set; } = ErspanIIHeader.EnTagInFrame;

    /// <summary>ERSPAN II index (20 bits).</summary>
    public uint ErspanIndex { get; set; }

    /// <summary>ERSPAN III hardware id (6 bits).</summary>
    public byte ErspanHardwareId { get; set; }

    /// <summary>ERSPAN III direction: 0 ingress, 1 egress.</summary>
    public byte ErspanDirection { get; set; }

    /// <summary>ERSPAN III timestamp granularity (2 bits; 3 = IEEE 1588).</summary>
    public byte ErspanGranularity { get; set; }
}

/// <summary>
/// Writes outer headers (optional Ethernet, IPv4 with checksum, UDP+VXLAN or GRE [+ ERSPAN II/III])
/// in front of an inner Ethernet frame. The headers are built once; per packet only the lengths,
/// IPv4 identification and checksum, GRE sequence, UDP source port and ERSPAN T bit/timestamp are
/// patched. Not thread-safe (sequence numbers); allocates nothing per packet.
/// </summary>
public sealed class Encapsulator
{
    private readonly byte[] _template;
    private readonly int _ipOffset = -1;
    private readonly int _udpOffset = -1;
    private readonly int _sequenceOffset = -1;
    private readonly int _erspanOffset = -1;
    private readonly EncapsulationType _type;
    private readonly bool _hashSourcePort;
    private ushort _identification;
    private uint _sequence;

    public Encapsulator(EncapOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        // The addresses are written only with an outer IP header (a socket writes its own otherwise).
        if (options.Outer != OuterHeaders.Tunnel
            && (options.SourceAddress.AddressFamily != AddressFamily.InterNetwork
                || options.DestinationAddress.AddressFamily != AddressFamily.InterNetwork))
        {
            throw new ArgumentException("outer addresses must be IPv4", nameof(options));
        }

        _type = options.Type;
        _hashSourcePort = options.UdpSourcePort == 0;
        Span<byte> header = stackalloc byte[128];
        var offset = 0;
        if (options.Outer == OuterHeaders.Ethernet)
        {
            offset += HeaderWriter.WriteEthernet(header, options.DestinationMac, options.SourceMac, EthernetHeader.TypeIPv4);
        }

        var protocol = _type == EncapsulationType.Vxlan ? Ipv4Header.ProtocolUdp : Ipv4Header.ProtocolGre;
        if (options.Outer != OuterHeaders.Tunnel)
        {
            _ipOffset = offset;
            Span<byte> source = stackalloc byte[4];
            Span<byte> destination = stackalloc byte[4];
            options.SourceAddress.TryWriteBytes(source, out _);
            options.DestinationAddress.TryWriteBytes(destination, out _);
            offset += HeaderWriter.WriteIpv4(header[offset..], source, destination, protocol, 0, options.Ttl, options.Tos,
                0, options.DontFragment);
        }

        switch (_type)
        {
            case EncapsulationType.Vxlan:
                if (options.Outer != OuterHeaders.Tunnel)
                {
                    _udpOffset = offset;
                    offset += HeaderWriter.WriteUdp(header[offset..], options.UdpSourcePort, options.UdpDestinationPort, 0);
                }

                offset += HeaderWriter.WriteVxlan(header[offset..], options.Vni);
                break;
            case EncapsulationType.Gre:
                offset += HeaderWriter.WriteGre(header[offset..], GreHeader.ProtocolTransparentEthernetBridging, options.GreKey);
                break;
            case EncapsulationType.ErspanII:
                _sequenceOffset = offset + GreHeader.BaseLength;
                offset += HeaderWriter.WriteGre(header[offset..], GreHeader.ProtocolErspanI_II, sequence: 0);
                _erspanOffset = offset;
                offset += HeaderWriter.WriteErspanII(header[offset..], new ErspanIIFields(options.ErspanSessionId,
                    options.ErspanVlan, options.ErspanCos, options.ErspanEn, false, options.ErspanIndex));
                break;
            case EncapsulationType.ErspanIII:
                _sequenceOffset = offset + GreHeader.BaseLength;
                offset += HeaderWriter.WriteGre(header[offset..], GreHeader.ProtocolErspanIII, sequence: 0);
                _erspanOffset = offset;
                offset += HeaderWriter.WriteErspanIII(header[offset..], new ErspanIIIFields(options.ErspanSessionId,
                    options.ErspanVlan, options.ErspanCos, 0, false, 0, 0, false, ErspanIIIHeader.FrameTypeEthernet,
                    options.ErspanHardwareId, options.ErspanDirection, options.ErspanGranularity, null));
                break;
            default:
                throw new ArgumentException("unknown encapsulation type " + _type, nameof(options));
        }

        _template = header[..offset].ToArray();
    }

    /// <summary>Bytes written in front of each inner frame.</summary>
    public int HeaderLength => _template.Length;

    /// <summary>The next GRE sequence number (ERSPAN).</summary>
    public uint NextSequence => _sequence;

    /// <summary>
    /// Writes the outer headers and <paramref name="inner"/> into <paramref name="destination"/>.
    /// Returns the bytes written, or 0 when the destination is too short or the result would not
    /// fit an IPv4 datagram (nothing is written then).
    /// </summary>
    /// <param name="truncated">Sets the ERSPAN T bit (the inner frame is shorter than on the wire).</param>
    /// <param name="erspanTimestamp">ERSPAN III timestamp field.</param>
    public int Encapsulate(ReadOnlySpan<byte> inner, Span<byte> destination, bool truncated = false, uint erspanTimestamp = 0)
    {
        var total = _template.Length + inner.Length;
        if (destination.Length < total || !LengthsFit(inner.Length))
        {
            return 0;
        }

        inner.CopyTo(destination[_template.Length..]);
        WriteHeaders(destination, inner, truncated, erspanTimestamp);
        return total;
    }

    /// <summary>
    /// Writes the outer headers in front of an inner frame already at
    /// <c>buffer[innerOffset..innerOffset+innerLength]</c> (zero copy). Returns the new start
    /// offset, or -1 when there is not <see cref="HeaderLength"/> bytes of headroom.
    /// </summary>
    public int EncapsulateInPlace(Span<byte> buffer, int innerOffset, int innerLength, bool truncated = false, uint erspanTimestamp = 0)
    {
        var start = innerOffset - _template.Length;
        if (start < 0 || (uint)innerLength > (uint)(buffer.Length - innerOffset) || !LengthsFit(innerLength))
        {
            return -1;
        }

        WriteHeaders(buffer[start..], buffer.Slice(innerOffset, innerLength), truncated, erspanTimestamp);
        return start;
    }

    private bool LengthsFit(int innerLength)
        => _ipOffset < 0 || _template.Length - _ipOffset + innerLength <= 65535;

    private void WriteHeaders(Span<byte> destination, ReadOnlySpan<byte> inner, bool truncated, uint erspanTimestamp)
    {
        _template.CopyTo(destination);
        var total = _template.Length + inner.Length;
        if (_ipOffset >= 0)
        {
            var ip = destination.Slice(_ipOffset, Ipv4Header.MinLength);
            BinaryPrimitives.WriteUInt16BigEndian(ip[Ipv4Header.TotalLengthOffset..], (ushort)(total - _ipOffset));
            BinaryPrimitives.WriteUInt16BigEndian(ip[Ipv4Header.IdentificationOffset..], _identification++);
            BinaryPrimitives.WriteUInt16BigEndian(ip[Ipv4Header.ChecksumOffset..], 0);
            BinaryPrimitives.WriteUInt16BigEndian(ip[Ipv4Header.ChecksumOffset..], Ipv4Header.ComputeChecksum(ip));
        }

        if (_udpOffset >= 0)
        {
            var udp = destination[_udpOffset..];
            BinaryPrimitives.WriteUInt16BigEndian(udp[UdpHeader.LengthOffset..], (ushort)(total - _udpOffset));
            if (_hashSourcePort)
            {
                BinaryPrimitives.WriteUInt16BigEndian(udp[UdpHeader.SourcePortOffset..], EntropyPort(inner));
            }
        }

        if (_sequenceOffset >= 0)
        {
            BinaryPrimitives.WriteUInt32BigEndian(destination[_sequenceOffset..], _sequence++);
        }

        if (_erspanOffset >= 0)
        {
            if (truncated)
            {
                destination[_erspanOffset + 2] |= 0x04;
            }

            if (_type == EncapsulationType.ErspanIII)
            {
                BinaryPrimitives.WriteUInt32BigEndian(destination[(_erspanOffset + ErspanIIIHeader.TimestampOffset)..], erspanTimestamp);
            }
        }
    }

    /// <summary>A port in 49152-65535 from the inner MACs and EtherType (stable per flow pair).</summary>
    private static ushort EntropyPort(ReadOnlySpan<byte> inner)
    {
        ulong key;
        if (inner.Length >= EthernetHeader.MinLength)
        {
            // MACs and EtherType in two reads, mixed with a multiplicative hash.
            key = BinaryPrimitives.ReadUInt64LittleEndian(inner)
                  ^ ((ulong)BinaryPrimitives.ReadUInt64LittleEndian(inner[6..]) << 3);
        }
        else
        {
            key = 0;
            foreach (var b in inner)
            {
                key = (key << 8) | b;
            }
        }

        var hash = key * 0x9E3779B97F4A7C15UL;
        return (ushort)(49152 | ((hash >> 50) & 0x3FFF));
    }
}
