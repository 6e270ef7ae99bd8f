using System.Buffers.Binary;

namespace Fabric.Protocols.Decap;

/// <summary>
/// ERSPAN Type II header (GRE protocol 0x88BE with the GRE sequence bit set), version 1, 8 bytes.
/// draft-foschiano-erspan-03 section 4.1, https://datatracker.ietf.org/doc/html/draft-foschiano-erspan-03#section-4.1
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Ver  |          VLAN         | COS | En|T|    Session ID     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |      Reserved         |                  Index                |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// Type I (0x88BE without the sequence bit) has no ERSPAN header at all: the mirrored frame
/// follows the 4-byte GRE header.
/// </summary>
public readonly ref struct ErspanIIHeader
{
    public const int VersionVlanOffset = 0;
    public const int CosEnTSessionOffset = 2;
    public const int ReservedIndexOffset = 4;
    public const int HeaderLength = 8;
    public const int ExpectedVersion = 1;

    /// <summary>En: frame was untagged on the source port.</summary>
    public const byte EnUntagged = 0;
    /// <summary>En: ISL encapsulated on the source port.</summary>
    public const byte EnIsl = 1;
    /// <summary>En: 802.1Q encapsulated on the source port.</summary>
    public const byte EnDot1Q = 2;
    /// <summary>En: the VLAN tag is preserved in the mirrored frame.</summary>
    public const byte EnTagInFrame = 3;

    private ErspanIIHeader(ushort versionVlan, ushort cosEnTSession, uint reservedIndex)
    {
        Version = (byte)(versionVlan >> 12);
        Vlan = (ushort)(versionVlan & 0x0FFF);
        Cos = (byte)(cosEnTSession >> 13);
        En = (byte)((cosEnTSession >> 11) & 0x3);
        Truncated = (cosEnTSession & 0x0400) != 0;
        SessionId = (ushort)(cosEnTSession & 0x03FF);
        Index = reservedIndex & 0x000F_FFFF;
    }

    public byte Version { get; }

    public ushort Vlan { get; }

    public byte Cos { get; }

    /// <summary>Encapsulation type (see the En constants).</summary>
    public byte En { get; }

    /// <summary>T bit: the mirrored frame was truncated by the source.</summary>
    public bool Truncated { get; }

    public ushort SessionId { get; }

    public uint Index { get; }

    /// <summary>Reads the header at the start of <paramref name="source"/>.</summary>
    public static DecapStatus TryRead(ReadOnlySpan<byte> source, out ErspanIIHeader header)
    {
        header = default;
        if ((uint)source.Length < HeaderLength)
        {
            return DecapStatus.Truncated;
        }

        var versionVlan = BinaryPrimitives.ReadUInt16BigEndian(source.Slice(VersionVlanOffset, 2));
        if (versionVlan >> 12 != ExpectedVersion)
        {
            return DecapStatus.ErspanBadVersion;
        }

        header = new ErspanIIHeader(versionVlan,
            BinaryPrimitives.ReadUInt16BigEndian(source.Slice(CosEnTSessionOffset, 2)),
            BinaryPrimitives.ReadUInt32BigEndian(source.Slice(ReservedIndexOffset, 4)));
        return DecapStatus.Ok;
    }
}
