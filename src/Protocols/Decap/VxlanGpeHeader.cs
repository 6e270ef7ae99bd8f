using System.Buffers.Binary;

namespace Fabric.Protocols.Decap;

/// <summary>
/// VXLAN-GPE header (UDP 4790). draft-ietf-nvo3-vxlan-gpe-12 section 3.2,
/// https://datatracker.ietf.org/doc/html/draft-ietf-nvo3-vxlan-gpe-12#section-3.2
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |R|R|Ver|I|P|B|O|       Reserved                |Next Protocol  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                VXLAN Network Identifier (VNI) |   Reserved    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// Next Protocol: 1 IPv4, 2 IPv6, 3 Ethernet, 4 NSH, 5 MPLS. With the P bit clear the payload is
/// Ethernet (the draft's VXLAN compatibility rule), reported as <see cref="NextProtocolEthernet"/>.
/// </summary>
public readonly ref struct VxlanGpeHeader
{
    public const int FlagsOffset = 0;
    public const int NextProtocolOffset = 3;
    public const int VniOffset = 4;
    public const int HeaderLength = 8;

    public const byte IFlag = 0x08;
    public const byte PFlag = 0x04;
    public const byte OFlag = 0x01;

    public const byte NextProtocolIPv4 = 1;
    public const byte NextProtocolIPv6 = 2;
    public const byte NextProtocolEthernet = 3;
    public const byte NextProtocolNsh = 4;

    private VxlanGpeHeader(byte flags, byte nextProtocol, uint vni)
    {
        Flags = flags;
        NextProtocol = nextProtocol;
        Vni = vni;
    }

    public byte Flags { get; }

    /// <summary>Version (2 bits).</summary>
    public int Version => (Flags >> 4) & 0x3;

    /// <summary>Next Protocol (Ethernet when the P bit is clear).</summary>
    public byte NextProtocol { get; }

    /// <summary>True when the I flag is set and <see cref="Vni"/> is meaningful.</summary>
    public bool VniValid => (Flags & IFlag) != 0;

    public uint Vni { get; }

    /// <summary>Reads the header at the start of <paramref name="source"/>.</summary>
    public static DecapStatus TryRead(ReadOnlySpan<byte> source, out VxlanGpeHeader header)
    {
        header = default;
        if ((uint)source.Length < HeaderLength)
        {
            return DecapStatus.Truncated;
        }

        var flags = source[FlagsOffset];
        if (((flags >> 4) & 0x3) != 0)
        {
            return DecapStatus.VxlanGpeBadVersion;
        }

        var next = (flags & PFlag) != 0 ? source[NextProtocolOffset] : NextProtocolEthernet;
        header = new VxlanGpeHeader(flags, next, BinaryPrimitives.ReadUInt32BigEndian(source.Slice(VniOffset, 4)) >> 8);
        return DecapStatus.Ok;
    }
}
