using System.Buffers.Binary;

namespace Fabric.Protocols.Decap;

/// <summary>
/// ERSPAN Type III header (GRE protocol 0x22EB), version 2, 12 bytes, followed by an 8-byte
/// platform-specific subheader when the O bit is set.
/// draft-foschiano-erspan-03 section 4.2, https://datatracker.ietf.org/doc/html/draft-foschiano-erspan-03#section-4.2
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Ver  |          VLAN         | COS |BSO|T|     Session ID    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                          Timestamp                            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |             SGT               |P|    FT   |   Hw ID   |D|Gra|O|
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |    Platform Specific SubHeader (8 octets, optional)           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// FT 0 is an Ethernet frame, FT 2 an IP packet; other frame types are reported as
/// <see cref="DecapStatus.ErspanFrameTypeUnsupported"/> by the decapsulator.
/// </summary>
public readonly ref struct ErspanIIIHeader
{
    public const int VersionVlanOffset = 0;
    public const int CosBsoTSessionOffset = 2;
    public const int TimestampOffset = 4;
    public const int SgtOffset = 8;
    public const int FlagsOffset = 10;
    public const int BaseLength = 12;
    public const int PlatformSubheaderLength = 8;
    public const int ExpectedVersion = 2;

    public const byte FrameTypeEthernet = 0;
    public const byte FrameTypeIp = 2;

    private ErspanIIIHeader(ushort versionVlan, ushort cosBsoTSession, uint timestamp, ushort sgt, ushort flags)
    {
        Version = (byte)(versionVlan >> 12);
        Vlan = (ushort)(versionVlan & 0x0FFF);
        Cos = (byte)(cosBsoTSession >> 13);
        Bso = (byte)((cosBsoTSession >> 11) & 0x3);
        Truncated = (cosBsoTSession & 0x0400) != 0;
        SessionId = (ushort)(cosBsoTSession & 0x03FF);
        Timestamp = timestamp;
        Sgt = sgt;
        P = (flags & 0x8000) != 0;
        FrameType = (byte)((flags >> 10) & 0x1F);
        HardwareId = (byte)((flags >> 4) & 0x3F);
        Direction = (byte)((flags >> 3) & 0x1);
        Granularity = (byte)((flags >> 1) & 0x3);
        O = (flags & 0x1) != 0;
    }

    public byte Version { get; }

    public ushort Vlan { get; }

    public byte Cos { get; }

    /// <summary>Bad/Short/Oversized: 0 good or unknown, 1 short, 2 oversized, 3 bad.</summary>
    public byte Bso { get; }

    public bool Truncated { get; }

    public ushort SessionId { get; }

    public uint Timestamp { get; }

    public ushort Sgt { get; }

    /// <summary>P bit: the frame is a protocol frame (not mirrored data) per the draft.</summary>
    public bool P { get; }

    public byte FrameType { get; }

    public byte HardwareId { get; }

    /// <summary>D bit: 0 ingress, 1 egress.</summary>
    public byte Direction { get; }

    public byte Granularity { get; }

    /// <summary>O bit: an 8-byte platform-specific subheader follows.</summary>
    public bool O { get; }

    /// <summary>12, or 20 with the platform subheader.</summary>
    public int HeaderLength => O ? BaseLength + PlatformSubheaderLength : BaseLength;

    /// <summary>Reads the header (and checks the platform subheader is captured) at the start of <paramref name="source"/>.</summary>
    public static DecapStatus TryRead(ReadOnlySpan<byte> source, out ErspanIIIHeader header)
    {
        header = default;
        if ((uint)source.Length < BaseLength)
        {
            return DecapStatus.Truncated;
        }

        var versionVlan = BinaryPrimitives.ReadUInt16BigEndian(source.Slice(VersionVlanOffset, 2));
        if (versionVlan >> 12 != ExpectedVersion)
        {
            return DecapStatus.ErspanBadVersion;
        }

        var flags = BinaryPrimitives.ReadUInt16BigEndian(source.Slice(FlagsOffset, 2));
        if ((flags & 0x1) != 0 && (uint)source.Length < BaseLength + PlatformSubheaderLength)
        {
            return DecapStatus.Truncated;
        }

        header = new ErspanIIIHeader(versionVlan,
            BinaryPrimitives.ReadUInt16BigEndian(source.Slice(CosBsoTSessionOffset, 2)),
            BinaryPrimitives.ReadUInt32BigEndian(source.Slice(TimestampOffset, 4)),
            BinaryPrimitives.ReadUInt16BigEndian(source.Slice(SgtOffset, 2)),
            flags);
        return DecapStatus.Ok;
    }
}
