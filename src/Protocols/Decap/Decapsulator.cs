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
    private const int MaxPrefixLength = 512;

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

            type = (buffer[pos] >> 4) switch
            {
                4 => EthernetHeader.TypeIPv4,
                6 => EthernetHeader.TypeIPv6,
                _ => 0,
            };
            if (type == 0)
            {
                return DecapStatus.IpBadVersion;
            }

            frameStart = -1;
        }

        var depth = 0;
        var retagPending = false;
        ushort retagTci = 0;

        while (true)
        {
            // ---- the IP header that may carry the next tunnel ----------------------------------
            var ipStart = pos;
            int l4;
            int ipEnd;
            byte protocol;
            int addressLength;
            bool fragment;
            var limit = Math.Min(end, capEnd);
            if (type == EthernetHeader.TypeIPv4)
            {
                status = Ipv4Header.TryRead(buffer[pos..limit], out var ip4);
                if (status != DecapStatus.Ok)
                {
                    goto NotTunnelOrError;
                }

                ipEnd = ip4.TotalLength == 0 ? end : pos + ip4.TotalLength;
                if (ipEnd > end)
                {
                    status = DecapStatus.Ipv4BadTotalLength;
                    goto NotTunnelOrError;
                }

                protocol = ip4.Protocol;
                l4 = pos + ip4.HeaderLength;
                addressLength = Ipv4Header.AddressLength;
                fragment = ip4.IsFragment;
                if (fragment && depth == 0 && !reassembled && IsTunnelProtocol(protocol))
                {
                    if (capEnd < ipEnd)
                    {
                        return DecapStatus.FragmentTruncatedCapture;
                    }

                    return Reassemble(linkLayer, timestamp, 4, buffer.Slice(pos + Ipv4Header.SourceOffset, 4),
                        buffer.Slice(pos + Ipv4Header.DestinationOffset, 4), ip4.Identification, protocol,
                        ip4.FragmentOffset, ip4.MoreFragments, buffer[offset..l4], pos - offset, -1, buffer[l4..ipEnd],
                        out result, ref md);
                }
            }
            else if (type == EthernetHeader.TypeIPv6)
            {
                status = Ipv6Header.TryRead(buffer[pos..limit], out var ip6);
                if (status != DecapStatus.Ok)
                {
                    goto NotTunnelOrError;
                }

                ipEnd = ip6.PayloadLength == 0 ? end : pos + Ipv6Header.FixedLength + ip6.PayloadLength;
                if (ipEnd > end || pos + ip6.HeaderLength > ipEnd)
                {
                    status = DecapStatus.Ipv6BadPayloadLength;
                    goto NotTunnelOrError;
                }

                protocol = ip6.NextHeader;
                l4 = pos + ip6.HeaderLength;
                addressLength = Ipv6Header.AddressLength;
                fragment = ip6.IsFragment;
                if (fragment && depth == 0 && !reassembled && IsTunnelProtocol(protocol))
                {
                    if (capEnd < ipEnd)
                    {
                        return DecapStatus.FragmentTruncatedCapture;
                    }

                    return Reassemble(linkLayer, timestamp, 6, buffer.Slice(pos + Ipv6Header.SourceOffset, 16),
                        buffer.Slice(pos + Ipv6Header.DestinationOffset, 16), ip6.Identification, protocol,
                        ip6.FragmentOffset, ip6.MoreFragments, buffer[offset..(pos + ip6.FragmentHeaderOffset)],
                        pos - offset, pos + ip6.FragmentLinkOffset - offset, buffer[l4..ipEnd],
                        out result, ref md);
                }
            }
            else
            {
                goto NotTunnel;
            }

            if (fragment)
            {
                // A fragment inside a tunnel is inner traffic; an outer fragment of a non-tunnel protocol is not ours.
                goto NotTunnel;
            }

            // ---- the tunnel header --------------------------------------------------------------
            var l4Limit = Math.Min(ipEnd, capEnd);
            EncapKind kind;
            int payload;
            bool payloadIsEthernet;
            ushort payloadIpType = 0;
            var layerEnd = ipEnd;
            var erspanRetagCandidate = false;
            ushort erspanTci = 0;

            switch (protocol)
            {
                case Ipv4Header.ProtocolGre:
                {
                    status = PeelGre(buffer[l4..l4Limit], depth == 0, ref md, out kind, out var greLength,
                        out payloadIsEthernet, out payloadIpType, out erspanRetagCandidate, out erspanTci);
                    if (status != DecapStatus.Ok)
                    {
                        goto NotTunnelOrError;
                    }

                    if (kind == EncapKind.None)
                    {
                        goto NotTunnel;
                    }

                    payload = l4 + greLength;
                    break;
                }

                case Ipv4Header.ProtocolUdp:
                {
                    status = UdpHeader.TryRead(buffer[l4..l4Limit], out var udp);
                    if (status != DecapStatus.Ok)
                    {
                        goto NotTunnelOrError;
                    }

                    var portKind = _portKinds[udp.DestinationPort];
                    if (portKind == PortNone)
                    {
                        goto NotTunnel;
                    }

                    if (udp.Length != 0)
                    {
                        layerEnd = l4 + udp.Length;
                        if (layerEnd > ipEnd)
                        {
                            return DecapStatus.UdpBadLength;
                        }
                    }

                    var tunnel = l4 + UdpHeader.HeaderLength;
                    var tunnelBytes = buffer[tunnel..Math.Min(layerEnd, capEnd)];
                    switch (portKind)
                    {
                        case PortVxlan:
                        {
                            status = VxlanHeader.TryRead(tunnelBytes, out var vxlan);
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
                            kind = EncapKind.Vxlan;
                            payload = tunnel + VxlanHeader.HeaderLength;
                            payloadIsEthernet = true;
                            break;
                        }

                        case PortVxlanGpe:
                        {
                            status = VxlanGpeHeader.TryRead(tunnelBytes, out var gpe);
                            if (status != DecapStatus.Ok)
                            {
                                return status;
                            }

                            switch (gpe.NextProtocol)
                            {
                                case VxlanGpeHeader.NextProtocolEthernet:
                                    payloadIsEthernet = true;
                                    break;
                                case VxlanGpeHeader.NextProtocolIPv4:
                                    payloadIsEthernet = false;
                                    payloadIpType = EthernetHeader.TypeIPv4;
                                    break;
                                case VxlanGpeHeader.NextProtocolIPv6:
                                    payloadIsEthernet = false;
                                    payloadIpType = EthernetHeader.TypeIPv6;
                                    break;
                                default:
                                    return DecapStatus.VxlanGpeNextProtocolUnsupported;
                            }

                            if (gpe.VniValid)
                            {
                                md.HasVni = true;
                                md.Vni = gpe.Vni;
                            }

                            kind = EncapKind.VxlanGpe;
                            payload = tunnel + VxlanGpeHeader.HeaderLength;
                            break;
                        }

                        case PortGeneve:
                        {
                            status = GeneveHeader.TryRead(tunnelBytes, out var geneve);
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
                                    payloadIsEthernet = true;
                                    break;
                                case EthernetHeader.TypeIPv4:
                                case EthernetHeader.TypeIPv6:
                                    payloadIsEthernet = false;
                                    payloadIpType = geneve.ProtocolType;
                                    break;
                                default:
                                    return DecapStatus.GeneveProtocolUnsupported;
                            }

                            md.HasVni = true;
                            md.Vni = geneve.Vni;
                            if (geneve.HeaderLength > GeneveHeader.BaseLength)
                            {
                                ReadGeneveOptions(geneve, ref md);
                            }

                            kind = EncapKind.Geneve;
                            payload = tunnel + geneve.HeaderLength;
                            break;
                        }

                        default:
                        {
                            status = PeelGre(tunnelBytes, true, ref md, out var greKind, out var greLength,
                                out payloadIsEthernet, out payloadIpType, out erspanRetagCandidate, out erspanTci);
                            if (status != DecapStatus.Ok)
                            {
                                return status;
                            }

                            kind = EncapKind.GreInUdp;
                            payload = tunnel + greLength;
                            break;
                        }
                    }

                    break;
                }

                case Ipv4Header.ProtocolIPv4 when _ipInIp:
                    kind = EncapKind.IpInIp;
                    payload = l4;
                    payloadIsEthernet = false;
                    payloadIpType = EthernetHeader.TypeIPv4;
                    break;

                case Ipv4Header.ProtocolIPv6 when _ipInIp:
                    kind = EncapKind.IpInIp;
                    payload = l4;
                    payloadIsEthernet = false;
                    payloadIpType = EthernetHeader.TypeIPv6;
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
                md.OuterIpVersion = (byte)(addressLength == 4 ? 4 : 6);
                var sourceOffset = addressLength == 4 ? Ipv4Header.SourceOffset : Ipv6Header.SourceOffset;
                buffer.Slice(ipStart + sourceOffset, addressLength).CopyTo(md.OuterSource);
                buffer.Slice(ipStart + sourceOffset + addressLength, addressLength).CopyTo(md.OuterDestination);
            }

            md.Chain[depth] = kind;
            depth++;
            md.Depth = (byte)depth;
            end = layerEnd;
            pos = payload;
            if (payloadIsEthernet)
            {
                status = EthernetHeader.TryRead(buffer[pos..Math.Min(end, capEnd)], out var inner);
                if (status != DecapStatus.Ok)
                {
                    return status;
                }

                frameStart = pos;
                type = inner.EtherType;
                pos += inner.HeaderLength;
                retagPending = _retag && erspanRetagCandidate && inner.TagCount == 0;
                retagTci = erspanTci;
            }
            else
            {
                // Bare IP: even with no IP byte captured, the synthesized Ethernet header makes a
                // (visibly truncated) frame.
                frameStart = -1;
                type = payloadIpType;
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

            goto Finish;

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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool IsTunnelProtocol(byte protocol)
        => protocol is Ipv4Header.ProtocolGre or Ipv4Header.ProtocolUdp
           || (_ipInIp && protocol is Ipv4Header.ProtocolIPv4 or Ipv4Header.ProtocolIPv6);

    /// <summary>
    /// GRE and what it announces. Returns a status and <paramref name="kind"/> None when the GRE
    /// payload is not a tunnel payload and <paramref name="committed"/> is false (GRE found inside a
    /// tunnel: inner traffic, emitted as it is).
    /// </summary>
    private DecapStatus PeelGre(ReadOnlySpan<byte> source, bool committed, ref PacketMetadata md, out EncapKind kind,
        out int headerLength, out bool payloadIsEthernet, out ushort payloadIpType, out bool retagCandidate, out ushort tci)
    {
        kind = EncapKind.None;
        headerLength = 0;
        payloadIsEthernet = false;
        payloadIpType = 0;
        retagCandidate = false;
        tci = 0;
        var status = GreHeader.TryRead(source, out var gre);
        if (status != DecapStatus.Ok)
        {
            return committed ? status : DecapStatus.Ok;
        }

        switch (gre.ProtocolType)
        {
            case GreHeader.ProtocolTransparentEthernetBridging:
                kind = EncapKind.Gre;
                payloadIsEthernet = true;
                break;
            case GreHeader.ProtocolIPv4:
            case GreHeader.ProtocolIPv6:
                kind = EncapKind.Gre;
                payloadIpType = gre.ProtocolType;
                break;
            case GreHeader.ProtocolErspanI_II when !gre.SequencePresent:
                if ((_acceptedErspan & ErspanTypes.TypeI) == 0)
                {
                    return DecapStatus.ErspanTypeNotAccepted;
                }

                kind = EncapKind.ErspanI;
                md.ErspanType = 1;
                payloadIsEthernet = true;
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

                kind = EncapKind.ErspanII;
                md.ErspanType = 2;
                md.ErspanVlan = erspan.Vlan;
                md.ErspanCos = erspan.Cos;
                md.ErspanEn = erspan.En;
                md.ErspanTruncated = erspan.Truncated;
                md.ErspanSessionId = erspan.SessionId;
                md.ErspanIndex = erspan.Index;
                headerLength = ErspanIIHeader.HeaderLength;
                payloadIsEthernet = true;
                retagCandidate = erspan.En is ErspanIIHeader.EnIsl or ErspanIIHeader.EnDot1Q && erspan.Vlan != 0;
                tci = (ushort)((erspan.Cos << 13) | erspan.Vlan);
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
                    payloadIsEthernet = true;
                    retagCandidate = erspan.Vlan != 0;
                    tci = (ushort)((erspan.Cos << 13) | erspan.Vlan);
                }
                else if (erspan.FrameType == ErspanIIIHeader.FrameTypeIp)
                {
                    var ipStart = gre.HeaderLength + headerLength;
                    if ((uint)source.Length <= (uint)ipStart)
                    {
                        return DecapStatus.Truncated;
                    }

                    payloadIpType = (source[ipStart] >> 4) switch
                    {
                        4 => EthernetHeader.TypeIPv4,
                        6 => EthernetHeader.TypeIPv6,
                        _ => 0,
                    };
                    if (payloadIpType == 0)
                    {
                        return DecapStatus.IpBadVersion;
                    }
                }
                else
                {
                    return DecapStatus.ErspanFrameTypeUnsupported;
                }

                kind = EncapKind.ErspanIII;
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

        headerLength += gre.HeaderLength;
        return DecapStatus.Ok;
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
