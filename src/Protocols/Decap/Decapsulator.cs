using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Fabric.Protocols.Decap;

/// <summary>
/// Peels every tunnel layer (ERSPAN I/II/III, GRE, VXLAN, VXLAN-GPE, Geneve, GRE-in-UDP, IP-in-IP)
/// off a frame, down to the innermost Ethernet frame, in place: the result is an offset and a
/// length into the caller's buffer. Retag (802.1Q insert) and synthesized Ethernet headers for
/// IP-only payloads are written into the bytes of the outer headers that precede the payload,
/// and only when the call returns <see cref="DecapStatus.Ok"/>.
/// Outer IP fragments of tunnel packets are reassembled in bounded buffers of its own: when a
/// datagram completes, the inner frame is in <see cref="ReassembledFrame"/> until the next call.
/// Not thread-safe: one instance per stage thread. Allocates nothing per packet (a reassembly
/// slot's buffer is allocated the first time that slot is used, then reused).
/// </summary>
/// <remarks>
/// Rules (docs/decapsulation.md): the outermost IP header must carry a tunnel (GRE, a configured
/// UDP port, IP-in-IP) or the frame is <see cref="DecapStatus.NotEncapsulated"/>. Below the first
/// tunnel, peeling continues while the inner frame is itself a tunnel packet; once a tunnel is
/// recognised (GRE carrying a tunnel payload, a configured UDP port), a malformed tunnel header is
/// an error, while an inner frame that merely is not a tunnel (or is too short to tell) is emitted
/// as it is. Lengths follow the headers: the inner frame ends where the enclosing IP/UDP datagram
/// ends (Ethernet padding is dropped); its original length stays the wire length, so a short
/// capture stays visibly short.
/// </remarks>
public sealed class Decapsulator
{
    private const int SynthesizedHeaderLength = EthernetHeader.MinLength;
    private const int MaxPrefixLength = ReassemblySlot.MaxPrefixLength;

    private const byte PortNone = 0;
    private const byte PortVxlan = 1;
    private const byte PortVxlanGpe = 2;
    private const byte PortGeneve = 3;
    private const byte PortGreInUdp = 4;

    private readonly byte[] _portKinds = new byte[65536];
    private readonly ErspanTypes _acceptedErspan;
    private readonly int _maxDepth;
    private readonly bool _retag;
    private readonly bool _strictVxlan;
    private readonly bool _pass;
    private readonly bool _ipInIp;
    private readonly bool _dropUnknownCritical;
    private readonly ulong _sourceMac;
    private readonly ulong _destinationMac;

    private readonly ReassemblySlot[] _slots;
    private readonly int _maxDatagramBytes;
    private readonly long _timeoutNanoseconds;
    private readonly byte[] _reassemblyOutput;
    private int _reassembledOffset;
    private int _reassembledLength;
    private int _slotsInUse;

    /// <summary>Copies the policy; later changes to <paramref name="options"/> have no effect.</summary>
    /// <exception cref="ArgumentException">The options do not validate (<see cref="DecapOptions.Validate"/>).</exception>
    public Decapsulator(DecapOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problem = options.Validate();
        if (problem is not null)
        {
            throw new ArgumentException(problem, nameof(options));
        }

        foreach (var port in options.VxlanPorts)
        {
            _portKinds[port] = PortVxlan;
        }

        foreach (var port in options.VxlanGpePorts)
        {
            _portKinds[port] = PortVxlanGpe;
        }

        foreach (var port in options.GenevePorts)
        {
            _portKinds[port] = PortGeneve;
        }

        foreach (var port in options.GreInUdpPorts)
        {
            _portKinds[port] = PortGreInUdp;
        }

        _acceptedErspan = options.AcceptedErspanTypes;
        _maxDepth = options.MaxDepth;
        _retag = options.ErspanVlan == ErspanVlanPolicy.Retag;
        _strictVxlan = options.VxlanReservedBits == ReservedBitsPolicy.Strict;
        _pass = options.NonEncapsulated == NonEncapsulatedPolicy.Pass;
        _ipInIp = options.IpInIp;
        _dropUnknownCritical = options.GeneveUnknownCriticalOptions == GeneveCriticalPolicy.Drop;
        _sourceMac = options.SynthesizedSourceMac.Value;
        _destinationMac = options.SynthesizedDestinationMac.Value;

        _maxDatagramBytes = options.ReassemblyMaxDatagramBytes;
        _timeoutNanoseconds = options.ReassemblyTimeout.Ticks * 100;
        var slotCount = Math.Max(1, Math.Min(options.ReassemblyMaxDatagrams, options.ReassemblyMaxBytes / _maxDatagramBytes));
        _slots = new ReassemblySlot[slotCount];
        for (var i = 0; i < slotCount; i++)
        {
            _slots[i] = new ReassemblySlot(_maxDatagramBytes);
        }

        _reassemblyOutput = new byte[MaxPrefixLength + _maxDatagramBytes];
    }

    /// <summary>The buffer that holds the last reassembled frame (offsets of a reassembled
    /// <see cref="DecapResult"/> index it).</summary>
    public ReadOnlySpan<byte> ReassemblyBuffer => _reassemblyOutput;

    /// <summary>The frame produced by the last call when it returned
    /// <see cref="DecapStatus.Reassembled"/> or <see cref="DecapStatus.ReassembledPassedThrough"/>;
    /// valid until the next call.</summary>
    public ReadOnlySpan<byte> ReassembledFrame => _reassemblyOutput.AsSpan(_reassembledOffset, _reassembledLength);

    /// <summary>Datagrams discarded because their fragments did not all arrive within the timeout
    /// (their fragments were counted as <see cref="DecapStatus.FragmentHeld"/> when they came).</summary>
    public long ReassemblyTimeouts { get; private set; }

    /// <summary>Datagrams currently waiting for fragments.</summary>
    public int DatagramsInReassembly => _slotsInUse;

    /// <summary>Most datagrams reassembled at once: min(max-datagrams, max-bytes / max-datagram-bytes).</summary>
    public int ReassemblyCapacity => _slots.Length;

    /// <summary>Decapsulates one Ethernet frame; see the other overload.</summary>
    public DecapStatus Decapsulate(Span<byte> buffer, int offset, int length, int originalLength,
        long timestampNanoseconds, out DecapResult result, out PacketMetadata metadata)
        => Decapsulate(buffer, offset, length, originalLength, timestampNanoseconds, LinkLayer.Ethernet, out result, out metadata);

    /// <summary>
    /// Decapsulates the frame at <c>buffer[offset..offset+length]</c> in place.
    /// </summary>
    /// <param name="buffer">The caller's buffer; bytes before the inner payload may be rewritten.</param>
    /// <param name="offset">Start of the captured frame.</param>
    /// <param name="length">Captured length.</param>
    /// <param name="originalLength">Length on the wire (at least <paramref name="length"/>).</param>
    /// <param name="timestampNanoseconds">Packet time, any epoch, for reassembly timeouts.</param>
    /// <param name="linkLayer">What the frame starts with.</param>
    /// <param name="result">The frame to emit (see <see cref="DecapResult"/>); its original length is
    /// the truthful wire length of the inner frame, so a truncated capture stays truncated.</param>
    /// <param name="metadata">What was learned (zeroed, then filled as far as decoding got).</param>
    public DecapStatus Decapsulate(Span<byte> buffer, int offset, int length, int originalLength,
        long timestampNanoseconds, LinkLayer linkLayer, out DecapResult result, out PacketMetadata metadata)
    {
        metadata = default;
        result = default;
        if ((uint)offset > (uint)buffer.Length || (uint)length > (uint)(buffer.Length - offset)
            || originalLength < length || originalLength > int.MaxValue - offset)
        {
            return DecapStatus.BadInput;
        }

        return Peel(buffer, offset, length, originalLength, timestampNanoseconds, linkLayer, false, out result, ref metadata);
    }

    /// <summary>What one tunnel header announced: where its payload starts and what it is.</summary>
    private struct Tunnel
    {
        public EncapKind Kind;
        public int Payload;
        public int End;
        public ushort PayloadIpType;
        public bool PayloadIsEthernet;
        public bool RetagCandidate;
        public ushort Tci;
    }

    /// <summary>Where an IP header's payload is, and what it carries.</summary>
    private struct IpInfo
    {
        public int Payload;
        public int End;
        public byte Protocol;
        public byte Version;
        public bool Fragment;
    }

    private DecapStatus Peel(Span<byte> buffer, int offset, int length, int originalLength, long timestamp,
        LinkLayer linkLayer, bool reassembled, out DecapResult result, ref PacketMetadata md)
    {
        result = default;
        var capEnd = offset + length;
        var end = offset + originalLength;
        var pos = offset;
        int frameStart;
        ushort type;
        DecapStatus status;

        if (linkLayer == LinkLayer.Ethernet)
        {
            status = EthernetHeader.TryRead(buffer[pos..capEnd], out var eth);
            if (status != DecapStatus.Ok)
            {
                return status;
            }

            md.OuterVlan = eth.FirstVlanId;
            type = eth.EtherType;
            frameStart = pos;
            pos += eth.HeaderLength;
        }
        else
        {
            if (pos >= capEnd)
            {
                return DecapStatus.Truncated;
            }

            type = IpTypeOf(buffer[pos]);
            if (type == 0)
            {
                return DecapStatus.IpBadVersion;
            }

            frameStart = -1;
        }

        var depth = 0;
        var retagPending = false;
        ushort retagTci = 0;
        Tunnel tunnel = default;
        IpInfo ip = default;

        while (true)
        {
            // ---- the IP header that may carry the next tunnel ----------------------------------
            var ipStart = pos;
            var limit = Math.Min(end, capEnd);
            if (type == EthernetHeader.TypeIPv4)
            {
                status = ReadIpv4(buffer[pos..limit], pos, end, out ip);
            }
            else if (type == EthernetHeader.TypeIPv6)
            {
                status = ReadIpv6(buffer[pos..limit], pos, end, out ip);
            }
            else
            {
                goto NotTunnel;
            }

            if (status != DecapStatus.Ok)
            {
                goto NotTunnelOrError;
            }

            if (ip.Fragment)
            {
                if (depth == 0 && !reassembled && IsTunnelProtocol(ip.Protocol))
                {
                    return capEnd < ip.End
                        ? DecapStatus.FragmentTruncatedCapture
                        : HoldFragment(buffer, offset, ipStart, ip, linkLayer, timestamp, out result, ref md);
                }

                // A fragment inside a tunnel is inner traffic; an outer fragment of a non-tunnel protocol is not ours.
                goto NotTunnel;
            }

            // ---- the tunnel header --------------------------------------------------------------
            var l4 = ip.Payload;
            var l4Limit = Math.Min(ip.End, capEnd);
            switch (ip.Protocol)
            {
                case Ipv4Header.ProtocolGre:
                    status = PeelGre(buffer[l4..l4Limit], depth == 0, ref md, out tunnel);
                    if (status != DecapStatus.Ok)
                    {
                        goto NotTunnelOrError;
                    }

                    if (tunnel.Kind == EncapKind.None)
                    {
                        goto NotTunnel;
                    }

                    tunnel.Payload += l4;
                    tunnel.End = ip.End;
                    break;

                case Ipv4Header.ProtocolUdp:
                    // The port lookup inline: most UDP is not a tunnel and should cost no call.
                    if (l4Limit - l4 < UdpHeader.HeaderLength)
                    {
                        status = DecapStatus.Truncated;
                        goto NotTunnelOrError;
                    }

                    if (_portKinds[BinaryPrimitives.ReadUInt16BigEndian(buffer.Slice(l4 + UdpHeader.DestinationPortOffset, 2))] == PortNone)
                    {
                        goto NotTunnel;
                    }

                    status = PeelUdp(buffer, l4, l4Limit, ip.End, capEnd, ref md, out tunnel);
                    if (status != DecapStatus.Ok)
                    {
                        // A UDP header too short to read is not a tunnel yet; after a tunnel port it is an error.
                        if (tunnel.Kind == EncapKind.None)
                        {
                            goto NotTunnelOrError;
                        }

                        return status;
                    }

                    if (tunnel.Kind == EncapKind.None)
                    {
                        goto NotTunnel;
                    }

                    break;

                case Ipv4Header.ProtocolIPv4 when _ipInIp:
                    tunnel = new Tunnel { Kind = EncapKind.IpInIp, Payload = l4, End = ip.End, PayloadIpType = EthernetHeader.TypeIPv4 };
                    break;

                case Ipv4Header.ProtocolIPv6 when _ipInIp:
                    tunnel = new Tunnel { Kind = EncapKind.IpInIp, Payload = l4, End = ip.End, PayloadIpType = EthernetHeader.TypeIPv6 };
                    break;

                default:
                    goto NotTunnel;
            }

            // ---- a tunnel: push the layer --------------------------------------------------------
            if (depth == _maxDepth)
            {
                return DecapStatus.TooDeep;
            }

            if (depth == 0)
            {
                RecordOuterAddresses(buffer, ipStart, ip.Version, ref md);
            }

            md.Chain[depth] = tunnel.Kind;
            depth++;
            md.Depth = (byte)depth;
            end = tunnel.End;
            pos = tunnel.Payload;
            if (tunnel.PayloadIsEthernet)
            {
                status = EthernetHeader.TryRead(buffer[pos..Math.Min(end, capEnd)], out var inner);
                if (status != DecapStatus.Ok)
                {
                    return status;
                }

                frameStart = pos;
                type = inner.EtherType;
                pos += inner.HeaderLength;
                retagPending = _retag && tunnel.RetagCandidate && inner.TagCount == 0;
                retagTci = tunnel.Tci;
            }
            else
            {
                // Bare IP: an Ethernet header will be synthesized in front of it, so the payload
                // must be an IP header of the announced version, complete on the wire; a capture
                // that ends inside it makes a visibly truncated frame, one that ends before its
                // version nibble is truncated.
                status = CheckIpPayload(buffer, pos, end, capEnd, tunnel.PayloadIpType);
                if (status != DecapStatus.Ok)
                {
                    return status;
                }

                frameStart = -1;
                type = tunnel.PayloadIpType;
                retagPending = false;
            }

            continue;

        NotTunnelOrError:
            if (depth == 0)
            {
                return status;
            }

            goto Finish;

        NotTunnel:
            if (depth == 0)
            {
                if (!_pass)
                {
                    return DecapStatus.NotEncapsulated;
                }

                result = new DecapResult(offset, length, originalLength);
                return reassembled ? DecapStatus.ReassembledPassedThrough : DecapStatus.PassedThrough;
            }

        Finish:
            if (frameStart < 0)
            {
                var start = ipStart - SynthesizedHeaderLength;
                if (start < offset)
                {
                    return DecapStatus.NoRoomForHeader;
                }

                WriteMac(buffer.Slice(start + EthernetHeader.DestinationOffset, 6), _destinationMac);
                WriteMac(buffer.Slice(start + EthernetHeader.SourceOffset, 6), _sourceMac);
                BinaryPrimitives.WriteUInt16BigEndian(buffer.Slice(start + EthernetHeader.TypeOffset, 2), type);
                md.SynthesizedEthernet = true;
                frameStart = start;
            }
            else if (retagPending)
            {
                var start = frameStart - EthernetHeader.TagLength;
                if (start < offset)
                {
                    return DecapStatus.NoRoomForHeader;
                }

                buffer.Slice(frameStart, 2 * EthernetHeader.MacLength).CopyTo(buffer.Slice(start, 2 * EthernetHeader.MacLength));
                BinaryPrimitives.WriteUInt16BigEndian(buffer.Slice(start + EthernetHeader.TypeOffset, 2), EthernetHeader.TypeVlan);
                BinaryPrimitives.WriteUInt16BigEndian(buffer.Slice(start + EthernetHeader.TypeOffset + 2, 2), retagTci);
                md.Retagged = true;
                frameStart = start;
            }

            result = new DecapResult(frameStart, Math.Min(end, capEnd) - frameStart, end - frameStart);
            return reassembled ? DecapStatus.Reassembled : DecapStatus.Ok;
        }
    }

    /// <summary>
    /// The IP payload a tunnel announced (<paramref name="ipType"/>) at <paramref name="pos"/>:
    /// empty on the wire, shorter than an IP header on the wire (IPv4: 20 bytes or IHL below 5;
    /// IPv6: 40 bytes), or of another version, it is not emitted (a synthesized Ethernet header in
    /// front of it would be a runt or garbage). A capture that ends before the version nibble is
    /// <see cref="DecapStatus.Truncated"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static DecapStatus CheckIpPayload(ReadOnlySpan<byte> buffer, int pos, int end, int capEnd, ushort ipType)
    {
        var wire = end - pos;
        if (wire <= 0)
        {
            return DecapStatus.IpPayloadEmpty;
        }

        if (pos >= capEnd)
        {
            return DecapStatus.Truncated;
        }

        var first = buffer[pos];
        if (ipType == 0 || IpTypeOf(first) != ipType)
        {
            return DecapStatus.IpPayloadBadVersion;
        }

        if (ipType == EthernetHeader.TypeIPv4)
        {
            return wire < Ipv4Header.MinLength || (first & 0x0F) < 5 ? DecapStatus.IpPayloadTooShort : DecapStatus.Ok;
        }

        return wire < Ipv6Header.FixedLength ? DecapStatus.IpPayloadTooShort : DecapStatus.Ok;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort IpTypeOf(byte firstByte) => (firstByte >> 4) switch
    {
        4 => EthernetHeader.TypeIPv4,
        6 => EthernetHeader.TypeIPv6,
        _ => 0,
    };

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static DecapStatus ReadIpv4(ReadOnlySpan<byte> source, int pos, int end, out IpInfo ip)
    {
        ip = default;
        var status = Ipv4Header.TryRead(source, out var header);
        if (status != DecapStatus.Ok)
        {
            return status;
        }

        var ipEnd = header.TotalLength == 0 ? end : pos + header.TotalLength;
        if (ipEnd > end)
        {
            return DecapStatus.Ipv4BadTotalLength;
        }

        ip.Payload = pos + header.HeaderLength;
        ip.End = ipEnd;
        ip.Protocol = header.Protocol;
        ip.Version = 4;
        ip.Fragment = header.IsFragment;
        return DecapStatus.Ok;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static DecapStatus ReadIpv6(ReadOnlySpan<byte> source, int pos, int end, out IpInfo ip)
    {
        ip = default;
        var status = Ipv6Header.TryRead(source, out var header);
        if (status != DecapStatus.Ok)
        {
            return status;
        }

        var ipEnd = header.PayloadLength == 0 ? end : pos + Ipv6Header.FixedLength + header.PayloadLength;
        if (ipEnd > end || pos + header.HeaderLength > ipEnd)
        {
            return DecapStatus.Ipv6BadPayloadLength;
        }

        ip.Payload = pos + header.HeaderLength;
        ip.End = ipEnd;
        ip.Protocol = header.NextHeader;
        ip.Version = 6;
        ip.Fragment = header.IsFragment;
        return DecapStatus.Ok;
    }

    private static void RecordOuterAddresses(Span<byte> buffer, int ipStart, byte version, ref PacketMetadata md)
    {
        md.OuterIpVersion = version;
        if (version == 4)
        {
            buffer.Slice(ipStart + Ipv4Header.SourceOffset, 4).CopyTo(md.OuterSource);
            buffer.Slice(ipStart + Ipv4Header.DestinationOffset, 4).CopyTo(md.OuterDestination);
        }
        else
        {
            buffer.Slice(ipStart + Ipv6Header.SourceOffset, 16).CopyTo(md.OuterSource);
            buffer.Slice(ipStart + Ipv6Header.DestinationOffset, 16).CopyTo(md.OuterDestination);
        }
    }

    /// <summary>Re-reads an outer fragment's IP header (the rare path) and hands it to reassembly.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private DecapStatus HoldFragment(Span<byte> buffer, int offset, int ipStart, IpInfo ip, LinkLayer linkLayer, long timestamp,
        out DecapResult result, ref PacketMetadata md)
    {
        if (ip.Version == 4)
        {
            Ipv4Header.TryRead(buffer[ipStart..ip.End], out var ip4);
            return Reassemble(linkLayer, timestamp, 4, buffer.Slice(ipStart + Ipv4Header.SourceOffset, 4),
                buffer.Slice(ipStart + Ipv4Header.DestinationOffset, 4), ip4.Identification, ip.Protocol,
                ip4.FragmentOffset, ip4.MoreFragments, buffer[offset..ip.Payload], ipStart - offset, -1, buffer[ip.Payload..ip.End],
                out result, ref md);
        }

        Ipv6Header.TryRead(buffer[ipStart..ip.End], out var ip6);
        return Reassemble(linkLayer, timestamp, 6, buffer.Slice(ipStart + Ipv6Header.SourceOffset, 16),
            buffer.Slice(ipStart + Ipv6Header.DestinationOffset, 16), ip6.Identification, ip.Protocol,
            ip6.FragmentOffset, ip6.MoreFragments, buffer[offset..(ipStart + ip6.FragmentHeaderOffset)],
            ipStart - offset, ipStart + ip6.FragmentLinkOffset - offset, buffer[ip.Payload..ip.End],
            out result, ref md);
    }

    /// <summary>
    /// UDP and, when its destination port is a configured tunnel port, the tunnel header after it.
    /// <paramref name="tunnel"/>.Kind stays None when the UDP datagram is not a tunnel packet (or
    /// its header cannot be read); a non-Ok status with a Kind set is an error in a tunnel header.
    /// </summary>
    private DecapStatus PeelUdp(Span<byte> buffer, int l4, int l4Limit, int ipEnd, int capEnd, ref PacketMetadata md, out Tunnel tunnel)
    {
        tunnel = default;
        var status = UdpHeader.TryRead(buffer[l4..l4Limit], out var udp);
        if (status != DecapStatus.Ok)
        {
            return status;
        }

        var portKind = _portKinds[udp.DestinationPort];
        if (portKind == PortNone)
        {
            return DecapStatus.Ok;
        }

        tunnel.Kind = portKind switch
        {
            PortVxlan => EncapKind.Vxlan,
            PortVxlanGpe => EncapKind.VxlanGpe,
            PortGeneve => EncapKind.Geneve,
            _ => EncapKind.GreInUdp,
        };
        var layerEnd = ipEnd;
        if (udp.Length != 0)
        {
            layerEnd = l4 + udp.Length;
            if (layerEnd > ipEnd)
            {
                return DecapStatus.UdpBadLength;
            }
        }

        var start = l4 + UdpHeader.HeaderLength;
        var bytes = buffer[start..Math.Min(layerEnd, capEnd)];
        switch (portKind)
        {
            case PortVxlan:
            {
                status = VxlanHeader.TryRead(bytes, out var vxlan);
                if (status != DecapStatus.Ok)
                {
                    return status;
                }

                if (_strictVxlan && vxlan.ReservedBitsSet)
                {
                    return DecapStatus.VxlanReservedBitsSet;
                }

                md.HasVni = true;
                md.Vni = vxlan.Vni;
                tunnel.Payload = start + VxlanHeader.HeaderLength;
                tunnel.PayloadIsEthernet = true;
                break;
            }

            case PortVxlanGpe:
            {
                status = VxlanGpeHeader.TryRead(bytes, out var gpe);
                if (status != DecapStatus.Ok)
                {
                    return status;
                }

                switch (gpe.NextProtocol)
                {
                    case VxlanGpeHeader.NextProtocolEthernet:
                        tunnel.PayloadIsEthernet = true;
                        break;
                    case VxlanGpeHeader.NextProtocolIPv4:
                        tunnel.PayloadIpType = EthernetHeader.TypeIPv4;
                        break;
                    case VxlanGpeHeader.NextProtocolIPv6:
                        tunnel.PayloadIpType = EthernetHeader.TypeIPv6;
                        break;
                    default:
                        return DecapStatus.VxlanGpeNextProtocolUnsupported;
                }

                if (gpe.VniValid)
                {
                    md.HasVni = true;
                    md.Vni = gpe.Vni;
                }

                tunnel.Payload = start + VxlanGpeHeader.HeaderLength;
                break;
            }

            case PortGeneve:
            {
                status = GeneveHeader.TryRead(bytes, out var geneve);
                if (status != DecapStatus.Ok)
                {
                    return status;
                }

                if (geneve.Control)
                {
                    return DecapStatus.GeneveControlPacket;
                }

                switch (geneve.ProtocolType)
                {
                    case EthernetHeader.TypeTransparentEthernetBridging:
                        tunnel.PayloadIsEthernet = true;
                        break;
                    case EthernetHeader.TypeIPv4:
                    case EthernetHeader.TypeIPv6:
                        tunnel.PayloadIpType = geneve.ProtocolType;
                        break;
                    default:
                        return DecapStatus.GeneveProtocolUnsupported;
                }

                md.HasVni = true;
                md.Vni = geneve.Vni;
                if (geneve.HeaderLength > GeneveHeader.BaseLength)
                {
                    ReadGeneveOptions(geneve, ref md);
                    if (geneve.Critical && HasUnknownCriticalOption(geneve))
                    {
                        if (_dropUnknownCritical)
                        {
                            return DecapStatus.GeneveUnknownCriticalOption;
                        }

                        md.GeneveUnknownCritical = true;
                    }
                }

                tunnel.Payload = start + geneve.HeaderLength;
                break;
            }

            default:
            {
                status = PeelGre(bytes, true, ref md, out tunnel);
                if (status != DecapStatus.Ok)
                {
                    tunnel.Kind = EncapKind.GreInUdp;
                    return status;
                }

                tunnel.Kind = EncapKind.GreInUdp;
                tunnel.Payload += start;
                break;
            }
        }

        tunnel.End = layerEnd;
        return DecapStatus.Ok;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool IsTunnelProtocol(byte protocol)
        => protocol is Ipv4Header.ProtocolGre or Ipv4Header.ProtocolUdp
           || (_ipInIp && protocol is Ipv4Header.ProtocolIPv4 or Ipv4Header.ProtocolIPv6);

    /// <summary>
    /// GRE and what it announces; <paramref name="tunnel"/>.Payload is relative to the GRE header.
    /// Kind stays None when the GRE payload is not a tunnel payload and <paramref name="committed"/>
    /// is false (GRE found inside a tunnel: inner traffic, emitted as it is).
    /// </summary>
    private DecapStatus PeelGre(ReadOnlySpan<byte> source, bool committed, ref PacketMetadata md, out Tunnel tunnel)
    {
        tunnel = default;
        var status = GreHeader.TryRead(source, out var gre);
        if (status != DecapStatus.Ok)
        {
            return committed ? status : DecapStatus.Ok;
        }

        var headerLength = 0;
        switch (gre.ProtocolType)
        {
            case GreHeader.ProtocolTransparentEthernetBridging:
                tunnel.Kind = EncapKind.Gre;
                tunnel.PayloadIsEthernet = true;
                break;
            case GreHeader.ProtocolIPv4:
            case GreHeader.ProtocolIPv6:
                tunnel.Kind = EncapKind.Gre;
                tunnel.PayloadIpType = gre.ProtocolType;
                break;
            case GreHeader.ProtocolErspanI_II when !gre.SequencePresent:
                if ((_acceptedErspan & ErspanTypes.TypeI) == 0)
                {
                    return DecapStatus.ErspanTypeNotAccepted;
                }

                tunnel.Kind = EncapKind.ErspanI;
                md.ErspanType = 1;
                tunnel.PayloadIsEthernet = true;
                break;
            case GreHeader.ProtocolErspanI_II:
            {
                if ((_acceptedErspan & ErspanTypes.TypeII) == 0)
                {
                    return DecapStatus.ErspanTypeNotAccepted;
                }

                status = ErspanIIHeader.TryRead(source[gre.HeaderLength..], out var erspan);
                if (status != DecapStatus.Ok)
                {
                    return status;
                }

                tunnel.Kind = EncapKind.ErspanII;
                md.ErspanType = 2;
                md.ErspanVlan = erspan.Vlan;
                md.ErspanCos = erspan.Cos;
                md.ErspanEn = erspan.En;
                md.ErspanTruncated = erspan.Truncated;
                md.ErspanSessionId = erspan.SessionId;
                md.ErspanIndex = erspan.Index;
                headerLength = ErspanIIHeader.HeaderLength;
                tunnel.PayloadIsEthernet = true;
                tunnel.RetagCandidate = erspan.En != ErspanIIHeader.EnTagInFrame && erspan.Vlan != 0;
                tunnel.Tci = (ushort)((erspan.Cos << 13) | erspan.Vlan);
                break;
            }

            case GreHeader.ProtocolErspanIII:
            {
                if ((_acceptedErspan & ErspanTypes.TypeIII) == 0)
                {
                    return DecapStatus.ErspanTypeNotAccepted;
                }

                status = ErspanIIIHeader.TryRead(source[gre.HeaderLength..], out var erspan);
                if (status != DecapStatus.Ok)
                {
                    return status;
                }

                md.ErspanType = 3;
                md.ErspanVlan = erspan.Vlan;
                md.ErspanCos = erspan.Cos;
                md.ErspanBso = erspan.Bso;
                md.ErspanTruncated = erspan.Truncated;
                md.ErspanSessionId = erspan.SessionId;
                md.ErspanTimestamp = erspan.Timestamp;
                md.ErspanSgt = erspan.Sgt;
                md.ErspanFrameType = erspan.FrameType;
                md.ErspanHardwareId = erspan.HardwareId;
                md.ErspanDirection = erspan.Direction;
                md.ErspanGranularity = erspan.Granularity;
                headerLength = erspan.HeaderLength;
                if (erspan.FrameType == ErspanIIIHeader.FrameTypeEthernet)
                {
                    tunnel.PayloadIsEthernet = true;
                    tunnel.RetagCandidate = erspan.Vlan != 0;
                    tunnel.Tci = (ushort)((erspan.Cos << 13) | erspan.Vlan);
                }
                else if (erspan.FrameType == ErspanIIIHeader.FrameTypeIp)
                {
                    // The version nibble says IPv4 or IPv6; with no byte captured (or none on the
                    // wire) the type stays 0 and CheckIpPayload tells empty from truncated.
                    var ipStart = gre.HeaderLength + headerLength;
                    if ((uint)source.Length > (uint)ipStart)
                    {
                        tunnel.PayloadIpType = IpTypeOf(source[ipStart]);
                        if (tunnel.PayloadIpType == 0)
                        {
                            return DecapStatus.IpPayloadBadVersion;
                        }
                    }
                }
                else
                {
                    return DecapStatus.ErspanFrameTypeUnsupported;
                }

                tunnel.Kind = EncapKind.ErspanIII;
                break;
            }

            default:
                return committed ? DecapStatus.GreProtocolUnsupported : DecapStatus.Ok;
        }

        if (gre.KeyPresent)
        {
            md.HasGreKey = true;
            md.GreKey = gre.Key;
        }

        tunnel.Payload = gre.HeaderLength + headerLength;
        return DecapStatus.Ok;
    }

    /// <summary>An option with the critical bit whose class/type is not one Fabric reads (the AWS
    /// Gateway Load Balancer options, class 0x0108 types 1-3). Only walked when the C bit is set:
    /// RFC 8926 section 3.5 requires it whenever a critical option is present.</summary>
    private static bool HasUnknownCriticalOption(GeneveHeader geneve)
    {
        foreach (var option in geneve.GetOptions())
        {
            if ((option.Type & GeneveHeader.OptionCriticalBit) == 0)
            {
                continue;
            }

            var known = option.OptionClass == GeneveHeader.OptionClassAws
                && (option.Type & 0x7F) is GeneveHeader.AwsGwlbEndpointIdType or GeneveHeader.AwsGwlbAttachmentIdType or GeneveHeader.AwsGwlbFlowCookieType;
            if (!known)
            {
                return true;
            }
        }

        return false;
    }

    private static void ReadGeneveOptions(GeneveHeader geneve, ref PacketMetadata md)
    {
        foreach (var option in geneve.GetOptions())
        {
            if (option.OptionClass != GeneveHeader.OptionClassAws)
            {
                continue;
            }

            switch (option.Type & 0x7F)
            {
                case GeneveHeader.AwsGwlbEndpointIdType when option.Data.Length >= 8:
                    md.AwsGwlbEndpointId = BinaryPrimitives.ReadUInt64BigEndian(option.Data);
                    md.AwsGwlbPresent |= AwsGwlbFields.EndpointId;
                    break;
                case GeneveHeader.AwsGwlbAttachmentIdType when option.Data.Length >= 8:
                    md.AwsGwlbAttachmentId = BinaryPrimitives.ReadUInt64BigEndian(option.Data);
                    md.AwsGwlbPresent |= AwsGwlbFields.AttachmentId;
                    break;
                case GeneveHeader.AwsGwlbFlowCookieType when option.Data.Length >= 4:
                    md.AwsGwlbFlowCookie = BinaryPrimitives.ReadUInt32BigEndian(option.Data);
                    md.AwsGwlbPresent |= AwsGwlbFields.FlowCookie;
                    break;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteMac(Span<byte> destination, ulong mac)
    {
        BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)(mac >> 32));
        BinaryPrimitives.WriteUInt32BigEndian(destination[2..], (uint)mac);
    }

    // ---- reassembly of outer fragments ---------------------------------------------------------

    /// <summary>
    /// Stores one outer fragment. <paramref name="prefix"/> is the frame from its start to the
    /// fragmentable part (IPv6: without the fragment header); the IP header starts at
    /// <paramref name="ipOffset"/> in it; for IPv6 <paramref name="linkFieldOffset"/> is the prefix
    /// offset of the Next Header byte that named the fragment header.
    /// </summary>
    private DecapStatus Reassemble(LinkLayer linkLayer, long timestamp, byte version,
        ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination, uint identification, byte protocol,
        int fragmentOffset, bool more, ReadOnlySpan<byte> prefix, int ipOffset, int linkFieldOffset,
        ReadOnlySpan<byte> data, out DecapResult result, ref PacketMetadata md)
    {
        result = default;
        ExpireSlots(timestamp);

        var fragmentEnd = fragmentOffset + data.Length;
        if ((more && (data.Length & 7) != 0) || fragmentEnd > 65535 || data.Length == 0)
        {
            return DecapStatus.FragmentBadOffset;
        }

        if (fragmentEnd > _maxDatagramBytes)
        {
            return DecapStatus.FragmentTooLarge;
        }

        if (fragmentOffset == 0 && prefix.Length > MaxPrefixLength)
        {
            return DecapStatus.FragmentTooLarge;
        }

        ReassemblySlot? slot = null;
        ReassemblySlot? free = null;
        foreach (var candidate in _slots)
        {
            if (!candidate.InUse)
            {
                free ??= candidate;
                continue;
            }

            if (candidate.Matches(version, protocol, identification, source, destination))
            {
                slot = candidate;
                break;
            }
        }

        if (slot is null)
        {
            if (free is null)
            {
                return DecapStatus.FragmentTableFull;
            }

            slot = free;
            slot.Start(version, protocol, identification, source, destination, timestamp);
            _slotsInUse++;
        }

        var add = slot.Add(fragmentOffset, more, data);
        if (add != DecapStatus.FragmentHeld)
        {
            if (add == DecapStatus.FragmentOverlap)
            {
                Free(slot);
            }

            return add;
        }

        if (fragmentOffset == 0)
        {
            prefix.CopyTo(slot.Prefix);
            slot.PrefixLength = prefix.Length;
            slot.IpOffset = ipOffset;
            slot.LinkFieldOffset = linkFieldOffset;
        }

        if (!slot.Complete)
        {
            return DecapStatus.FragmentHeld;
        }

        // The whole frame: prefix, then the datagram's data; the IP header patched to match.
        var total = slot.PrefixLength + slot.Total;
        var output = _reassemblyOutput.AsSpan(0, total);
        slot.Prefix.AsSpan(0, slot.PrefixLength).CopyTo(output);
        slot.Data.AsSpan(0, slot.Total).CopyTo(output[slot.PrefixLength..]);
        var ok = slot.Version == 4
            ? PatchIpv4(output, slot.IpOffset, slot.PrefixLength, slot.Total)
            : PatchIpv6(output, slot.IpOffset, slot.PrefixLength, slot.LinkFieldOffset, slot.Protocol, slot.Total);
        Free(slot);
        if (!ok)
        {
            return DecapStatus.FragmentTooLarge;
        }

        var status = Peel(_reassemblyOutput, 0, total, total, timestamp, linkLayer, true, out result, ref md);
        if (DecapStatusInfo.InReassemblyBuffer(status))
        {
            _reassembledOffset = result.Offset;
            _reassembledLength = result.Length;
        }

        return status;
    }

    /// <summary>IPv4: set the total length, clear MF and the offset (keep DF), recompute the checksum.</summary>
    private static bool PatchIpv4(Span<byte> frame, int ipOffset, int prefixLength, int dataLength)
    {
        var headerLength = prefixLength - ipOffset;
        var totalLength = headerLength + dataLength;
        if (totalLength > 65535)
        {
            return false;
        }

        var header = frame.Slice(ipOffset, headerLength);
        BinaryPrimitives.WriteUInt16BigEndian(header[Ipv4Header.TotalLengthOffset..], (ushort)totalLength);
        var flags = BinaryPrimitives.ReadUInt16BigEndian(header[Ipv4Header.FlagsFragmentOffset..]);
        BinaryPrimitives.WriteUInt16BigEndian(header[Ipv4Header.FlagsFragmentOffset..], (ushort)(flags & 0x4000));
        BinaryPrimitives.WriteUInt16BigEndian(header[Ipv4Header.ChecksumOffset..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(header[Ipv4Header.ChecksumOffset..], Ipv4Header.ComputeChecksum(header));
        return true;
    }

    /// <summary>IPv6: the fragment header was left out of the prefix; relink and set the payload length.</summary>
    private static bool PatchIpv6(Span<byte> frame, int ipOffset, int prefixLength, int linkFieldOffset, byte protocol, int dataLength)
    {
        var payloadLength = prefixLength - ipOffset - Ipv6Header.FixedLength + dataLength;
        if (payloadLength > 65535 || (uint)linkFieldOffset >= (uint)prefixLength)
        {
            return false;
        }

        frame[linkFieldOffset] = protocol;
        BinaryPrimitives.WriteUInt16BigEndian(frame.Slice(ipOffset + Ipv6Header.PayloadLengthOffset, 2), (ushort)payloadLength);
        return true;
    }

    private void ExpireSlots(long timestamp)
    {
        if (_slotsInUse == 0)
        {
            return;
        }

        foreach (var slot in _slots)
        {
            if (slot.InUse && timestamp - slot.FirstSeen > _timeoutNanoseconds)
            {
                Free(slot);
                ReassemblyTimeouts++;
            }
        }
    }

    private void Free(ReassemblySlot slot)
    {
        slot.InUse = false;
        _slotsInUse--;
    }
}
