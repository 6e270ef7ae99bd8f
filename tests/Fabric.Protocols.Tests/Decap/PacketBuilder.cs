using Fabric.Protocols.Decap;
using Fabric.Protocols.Encap;

namespace Fabric.Protocols.Tests.Decap;

/// <summary>Builds whole test frames from the header writers (the encoders under test elsewhere).</summary>
internal static class PacketBuilder
{
    public static readonly MacAddress OuterDst = MacAddress.Parse("00:11:22:33:44:55");
    public static readonly MacAddress OuterSrc = MacAddress.Parse("00:66:77:88:99:aa");
    public static readonly MacAddress InnerDst = MacAddress.Parse("0a:00:00:00:00:01");
    public static readonly MacAddress InnerSrc = MacAddress.Parse("0a:00:00:00:00:02");
    public static readonly byte[] OuterSource = [192, 0, 2, 1];
    public static readonly byte[] OuterDestination = [192, 0, 2, 2];
    public static readonly byte[] InnerSource = [10, 0, 0, 1];
    public static readonly byte[] InnerDestination = [10, 0, 0, 2];

    /// <summary>An inner IPv4/UDP packet with <paramref name="payloadLength"/> bytes of a counting pattern.</summary>
    public static byte[] InnerIp(int payloadLength = 32)
    {
        var packet = new byte[Ipv4Header.MinLength + UdpHeader.HeaderLength + payloadLength];
        HeaderWriter.WriteIpv4(packet, InnerSource, InnerDestination, Ipv4Header.ProtocolUdp, UdpHeader.HeaderLength + payloadLength);
        HeaderWriter.WriteUdp(packet.AsSpan(Ipv4Header.MinLength), 5353, 53, payloadLength);
        for (var i = 0; i < payloadLength; i++)
        {
            packet[Ipv4Header.MinLength + UdpHeader.HeaderLength + i] = (byte)i;
        }

        return packet;
    }

    /// <summary>An inner Ethernet frame (optionally 802.1Q tagged) carrying <see cref="InnerIp"/>.</summary>
    public static byte[] InnerFrame(int payloadLength = 32, ushort? vlanTci = null)
    {
        var ip = InnerIp(payloadLength);
        var ethLength = EthernetHeader.MinLength + (vlanTci.HasValue ? 4 : 0);
        var frame = new byte[ethLength + ip.Length];
        HeaderWriter.WriteEthernet(frame, InnerDst, InnerSrc, EthernetHeader.TypeIPv4,
            vlanTci.HasValue ? [vlanTci.Value] : default);
        ip.CopyTo(frame, ethLength);
        return frame;
    }

    /// <summary>Outer Ethernet + IPv4 (protocol) + <paramref name="rest"/>.</summary>
    public static byte[] OuterIpv4(byte protocol, params byte[][] rest)
    {
        var payload = rest.Sum(r => r.Length);
        var frame = new byte[EthernetHeader.MinLength + Ipv4Header.MinLength + payload];
        HeaderWriter.WriteEthernet(frame, OuterDst, OuterSrc, EthernetHeader.TypeIPv4);
        HeaderWriter.WriteIpv4(frame.AsSpan(EthernetHeader.MinLength), OuterSource, OuterDestination, protocol, payload);
        var offset = EthernetHeader.MinLength + Ipv4Header.MinLength;
        foreach (var part in rest)
        {
            part.CopyTo(frame, offset);
            offset += part.Length;
        }

        return frame;
    }

    public static byte[] Udp(ushort destinationPort, int payloadLength)
    {
        var udp = new byte[UdpHeader.HeaderLength];
        HeaderWriter.WriteUdp(udp, 50000, destinationPort, payloadLength);
        return udp;
    }

    public static byte[] Vxlan(byte[] inner, uint vni = 100, ushort port = 4789)
    {
        var vxlan = new byte[VxlanHeader.HeaderLength];
        HeaderWriter.WriteVxlan(vxlan, vni);
        return OuterIpv4(Ipv4Header.ProtocolUdp, Udp(port, vxlan.Length + inner.Length), vxlan, inner);
    }

    public static byte[] VxlanGpe(byte[] inner, byte nextProtocol, uint vni = 7)
    {
        var gpe = new byte[VxlanGpeHeader.HeaderLength];
        HeaderWriter.WriteVxlanGpe(gpe, vni, nextProtocol);
        return OuterIpv4(Ipv4Header.ProtocolUdp, Udp(4790, gpe.Length + inner.Length), gpe, inner);
    }

    public static byte[] Geneve(byte[] inner, ushort protocolType = EthernetHeader.TypeTransparentEthernetBridging, uint vni = 0x123456,
        byte[]? options = null, bool critical = false)
    {
        var geneve = new byte[GeneveHeader.BaseLength + (options?.Length ?? 0)];
        HeaderWriter.WriteGeneve(geneve, vni, protocolType, options, critical: critical);
        return OuterIpv4(Ipv4Header.ProtocolUdp, Udp(6081, geneve.Length + inner.Length), geneve, inner);
    }

    public static byte[] Gre(byte[] inner, ushort protocolType = GreHeader.ProtocolTransparentEthernetBridging, uint? key = 0x123456,
        uint? sequence = null)
    {
        var gre = new byte[16];
        var n = HeaderWriter.WriteGre(gre, protocolType, key, sequence);
        return OuterIpv4(Ipv4Header.ProtocolGre, gre[..n], inner);
    }

    public static byte[] GreInUdp(byte[] innerIp)
    {
        var gre = new byte[4];
        HeaderWriter.WriteGre(gre, GreHeader.ProtocolIPv4);
        return OuterIpv4(Ipv4Header.ProtocolUdp, Udp(4754, gre.Length + innerIp.Length), gre, innerIp);
    }

    public static byte[] ErspanI(byte[] inner)
    {
        var gre = new byte[4];
        HeaderWriter.WriteGre(gre, GreHeader.ProtocolErspanI_II);
        return OuterIpv4(Ipv4Header.ProtocolGre, gre, inner);
    }

    public static byte[] ErspanII(byte[] inner, ErspanIIFields fields, uint sequence = 1)
    {
        var gre = new byte[8];
        HeaderWriter.WriteGre(gre, GreHeader.ProtocolErspanI_II, sequence: sequence);
        var erspan = new byte[ErspanIIHeader.HeaderLength];
        HeaderWriter.WriteErspanII(erspan, fields);
        return OuterIpv4(Ipv4Header.ProtocolGre, gre, erspan, inner);
    }

    public static byte[] ErspanIII(byte[] inner, ErspanIIIFields fields)
    {
        var gre = new byte[8];
        HeaderWriter.WriteGre(gre, GreHeader.ProtocolErspanIII, sequence: 9);
        var erspan = new byte[ErspanIIIHeader.BaseLength + ErspanIIIHeader.PlatformSubheaderLength];
        var n = HeaderWriter.WriteErspanIII(erspan, fields);
        return OuterIpv4(Ipv4Header.ProtocolGre, gre, erspan[..n], inner);
    }

    public static byte[] IpInIp(byte[] innerIp) => OuterIpv4(Ipv4Header.ProtocolIPv4, innerIp);

    /// <summary>Default ERSPAN II fields used by several tests.</summary>
    public static ErspanIIFields DefaultErspanII => new(SessionId: 666, Vlan: 342, Cos: 6, En: 2, Truncated: false, Index: 32760);

    /// <summary>Default ERSPAN III fields used by several tests.</summary>
    public static ErspanIIIFields DefaultErspanIII => new(SessionId: 101, Vlan: 20, Cos: 5, Bso: 0, Truncated: false,
        Timestamp: 0xDEADBEEF, Sgt: 7, P: false, FrameType: 0, HardwareId: 3, Direction: 1, Granularity: 3, PlatformSubheader: null);
}
