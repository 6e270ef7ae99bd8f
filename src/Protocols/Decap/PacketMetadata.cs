using System.Runtime.CompilerServices;

namespace Fabric.Protocols.Decap;

/// <summary>One tunnel layer in <see cref="PacketMetadata"/>'s encapsulation chain.</summary>
public enum EncapKind : byte
{
    None = 0,
    /// <summary>GRE carrying Ethernet (0x6558, NVGRE included) or IP (0x0800/0x86DD).</summary>
    Gre,
    /// <summary>GRE 0x88BE without the sequence bit.</summary>
    ErspanI,
    /// <summary>GRE 0x88BE with the sequence bit.</summary>
    ErspanII,
    /// <summary>GRE 0x22EB.</summary>
    ErspanIII,
    Vxlan,
    VxlanGpe,
    Geneve,
    /// <summary>RFC 8086 GRE-in-UDP: UDP and the GRE header inside it, one layer (an ERSPAN header
    /// after that GRE fills the ERSPAN fields).</summary>
    GreInUdp,
    /// <summary>IPv4 or IPv6 directly in IPv4 or IPv6 (protocol 4 or 41).</summary>
    IpInIp,
}

/// <summary>Eight <see cref="EncapKind"/> values inline.</summary>
[InlineArray(PacketMetadata.MaxChain)]
public struct EncapChain
{
    private EncapKind _element0;
}

/// <summary>16 address bytes inline (an IPv4 address uses the first 4).</summary>
[InlineArray(16)]
public struct AddressBytes
{
    private byte _element0;
}

/// <summary>
/// What the decapsulator learned about one packet. Unmanaged (no references), so a
/// <c>PacketBatch</c> can keep an array of them parallel to its offsets. Zeroed at the start of
/// every <see cref="Decapsulator.Decapsulate"/> call. Where several layers carry the same
/// field (a VNI in each of two nested VXLAN headers), the innermost value is kept.
/// </summary>
public struct PacketMetadata
{
    /// <summary>Most tunnel layers recorded (and the upper bound of <see cref="DecapOptions.MaxDepth"/>).</summary>
    public const int MaxChain = 8;

    /// <summary>Tunnel layers, outermost first; <see cref="Depth"/> of them are set.</summary>
    public EncapChain Chain;

    /// <summary>Number of tunnel layers peeled.</summary>
    public byte Depth;

    /// <summary>4 or 6 for the outermost tunnel's IP header; 0 when there was none.</summary>
    public byte OuterIpVersion;

    /// <summary>Outermost tunnel source address (4 or 16 bytes used).</summary>
    public AddressBytes OuterSource;

    /// <summary>Outermost tunnel destination address (4 or 16 bytes used).</summary>
    public AddressBytes OuterDestination;

    /// <summary>Outer VLAN id of the capturing link (first 802.1Q/802.1ad tag), 0 when untagged.</summary>
    public ushort OuterVlan;

    /// <summary>1, 2 or 3 when an ERSPAN layer was peeled; 0 otherwise.</summary>
    public byte ErspanType;

    /// <summary>ERSPAN session id (10 bits; type II and III).</summary>
    public ushort ErspanSessionId;

    /// <summary>ERSPAN VLAN (12 bits; type II and III).</summary>
    public ushort ErspanVlan;

    /// <summary>ERSPAN class of service (3 bits).</summary>
    public byte ErspanCos;

    /// <summary>ERSPAN II encapsulation type En (0 untagged, 1 ISL, 2 802.1Q, 3 tag in frame).</summary>
    public byte ErspanEn;

    /// <summary>ERSPAN T bit: the mirrored frame was truncated by the source switch.</summary>
    public bool ErspanTruncated;

    /// <summary>ERSPAN II index (20 bits: port index / direction as the vendor defines it).</summary>
    public uint ErspanIndex;

    /// <summary>ERSPAN III D bit: 0 ingress, 1 egress.</summary>
    public byte ErspanDirection;

    /// <summary>ERSPAN III BSO (bad/short/oversized) field (2 bits).</summary>
    public byte ErspanBso;

    /// <summary>ERSPAN III timestamp granularity (2 bits).</summary>
    public byte ErspanGranularity;

    /// <summary>ERSPAN III hardware id (6 bits).</summary>
    public byte ErspanHardwareId;

    /// <summary>ERSPAN III frame type (0 Ethernet, 2 IP).</summary>
    public byte ErspanFrameType;

    /// <summary>ERSPAN III security group tag.</summary>
    public ushort ErspanSgt;

    /// <summary>ERSPAN III timestamp (low 32 bits).</summary>
    public uint ErspanTimestamp;

    /// <summary>True when <see cref="Vni"/> was set by VXLAN, VXLAN-GPE or Geneve.</summary>
    public bool HasVni;

    /// <summary>24-bit virtual network identifier (innermost).</summary>
    public uint Vni;

    /// <summary>True when a GRE key was present.</summary>
    public bool HasGreKey;

    /// <summary>GRE key (NVGRE: VSID in the top 24 bits, flow id in the low 8).</summary>
    public uint GreKey;

    /// <summary>AWS Gateway Load Balancer Geneve TLVs (class 0x0108) seen; see the fields below.</summary>
    public AwsGwlbFields AwsGwlbPresent;

    /// <summary>AWS GWLB option type 1: GWLB endpoint id (8 bytes).</summary>
    public ulong AwsGwlbEndpointId;

    /// <summary>AWS GWLB option type 2: attachment id (8 bytes).</summary>
    public ulong AwsGwlbAttachmentId;

    /// <summary>AWS GWLB option type 3: flow cookie (4 bytes).</summary>
    public uint AwsGwlbFlowCookie;

    /// <summary>True when a Geneve header had the C bit and an option with the critical bit set whose
    /// class/type Fabric does not know, and the policy was <c>forward</c> (the frame is emitted).</summary>
    public bool GeneveUnknownCritical;

    /// <summary>True when retag inserted an 802.1Q tag into the inner frame.</summary>
    public bool Retagged;

    /// <summary>True when an Ethernet header was synthesized in front of an IP-only payload.</summary>
    public bool SynthesizedEthernet;

    /// <summary>Layer <paramref name="index"/> of the chain (outermost is 0); None past <see cref="Depth"/>.</summary>
    public readonly EncapKind Layer(int index) => (uint)index < Depth ? Chain[index] : EncapKind.None;

    /// <summary>The chain as text, e.g. <c>erspan-ii/vxlan-gpe</c> (allocates; for tools and tests).</summary>
    public readonly string ChainText()
    {
        var parts = new string[Depth];
        for (var i = 0; i < Depth; i++)
        {
            parts[i] = Chain[i] switch
            {
                EncapKind.Gre => "gre",
                EncapKind.ErspanI => "erspan-i",
                EncapKind.ErspanII => "erspan-ii",
                EncapKind.ErspanIII => "erspan-iii",
                EncapKind.Vxlan => "vxlan",
                EncapKind.VxlanGpe => "vxlan-gpe",
                EncapKind.Geneve => "geneve",
                EncapKind.GreInUdp => "gre-in-udp",
                EncapKind.IpInIp => "ip-in-ip",
                _ => "none",
            };
        }

        return string.Join('/', parts);
    }

    /// <summary>Outermost tunnel source address as <see cref="System.Net.IPAddress"/> (allocates; tools only).</summary>
    public readonly System.Net.IPAddress? OuterSourceAddress() => ToAddress(OuterSource);

    /// <summary>Outermost tunnel destination address as <see cref="System.Net.IPAddress"/> (allocates; tools only).</summary>
    public readonly System.Net.IPAddress? OuterDestinationAddress() => ToAddress(OuterDestination);

    private readonly System.Net.IPAddress? ToAddress(AddressBytes bytes)
    {
        ReadOnlySpan<byte> all = bytes;
        return OuterIpVersion switch
        {
            4 => new System.Net.IPAddress(all[..4]),
            6 => new System.Net.IPAddress(all),
            _ => null,
        };
    }
}

/// <summary>Which AWS Gateway Load Balancer Geneve options were present.</summary>
[Flags]
public enum AwsGwlbFields : byte
{
    None = 0,
    EndpointId = 1,
    AttachmentId = 2,
    FlowCookie = 4,
}
