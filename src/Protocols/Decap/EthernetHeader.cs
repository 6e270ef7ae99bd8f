using System.Buffers.Binary;

namespace Fabric.Protocols.Decap;

/// <summary>
/// Ethernet II header with up to <see cref="MaxTags"/> stacked 802.1Q / 802.1ad tags (QinQ and deeper).
/// IEEE 802.3 clause 3.2, IEEE 802.1Q clause 9.
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                  Destination MAC address (6)                  |
/// +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                               |                               |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
/// |                    Source MAC address (6)                     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  TPID 0x8100/0x88A8/0x9100   | PCP |D|         VID           |  (0..8 times)
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |           EtherType           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// </summary>
public readonly ref struct EthernetHeader
{
    public const int DestinationOffset = 0;
    public const int SourceOffset = 6;
    public const int MacLength = 6;
    public const int TypeOffset = 12;
    public const int MinLength = 14;
    public const int TagLength = 4;
    public const int MaxTags = 8;

    public const ushort TypeIPv4 = 0x0800;
    public const ushort TypeArp = 0x0806;
    public const ushort TypeIPv6 = 0x86DD;
    public const ushort TypeVlan = 0x8100;
    public const ushort TypeQinQ = 0x88A8;
    public const ushort TypeQinQLegacy = 0x9100;
    public const ushort TypeTransparentEthernetBridging = 0x6558;

    private EthernetHeader(ReadOnlySpan<byte> bytes, ushort etherType, int headerLength, int tagCount, ushort firstVlanId)
    {
        Bytes = bytes;
        EtherType = etherType;
        HeaderLength = headerLength;
        TagCount = tagCount;
        FirstVlanId = firstVlanId;
    }

    /// <summary>The header's bytes (MACs, tags, EtherType).</summary>
    public ReadOnlySpan<byte> Bytes { get; }

    /// <summary>The EtherType after the tags (or an 802.3 length when below 0x0600).</summary>
    public ushort EtherType { get; }

    /// <summary>14 plus 4 per tag.</summary>
    public int HeaderLength { get; }

    /// <summary>Number of 802.1Q/802.1ad tags.</summary>
    public int TagCount { get; }

    /// <summary>VID of the outermost tag; 0 when untagged.</summary>
    public ushort FirstVlanId { get; }

    public ReadOnlySpan<byte> Destination => Bytes.Slice(DestinationOffset, MacLength);

    public ReadOnlySpan<byte> Source => Bytes.Slice(SourceOffset, MacLength);

    /// <summary>True for the TPIDs of 802.1Q, 802.1ad and the pre-standard 0x9100.</summary>
    public static bool IsTagType(ushort type) => type is TypeVlan or TypeQinQ or TypeQinQLegacy;

    /// <summary>Reads the header at the start of <paramref name="source"/>.</summary>
    public static DecapStatus TryRead(ReadOnlySpan<byte> source, out EthernetHeader header)
    {
        header = default;
        if ((uint)source.Length < MinLength)
        {
            return DecapStatus.Truncated;
        }

        var offset = TypeOffset;
        var type = BinaryPrimitives.ReadUInt16BigEndian(source.Slice(offset, 2));
        var tags = 0;
        ushort firstVid = 0;
        while (IsTagType(type))
        {
            if (tags == MaxTags)
            {
                return DecapStatus.EthernetTooManyVlanTags;
            }

            if ((uint)source.Length < (uint)(offset + TagLength + 2))
            {
                return DecapStatus.Truncated;
            }

            if (tags == 0)
            {
                firstVid = (ushort)(BinaryPrimitives.ReadUInt16BigEndian(source.Slice(offset + 2, 2)) & 0x0FFF);
            }

            tags++;
            offset += TagLength;
            type = BinaryPrimitives.ReadUInt16BigEndian(source.Slice(offset, 2));
        }

        header = new EthernetHeader(source[..(offset + 2)], type, offset + 2, tags, firstVid);
        return DecapStatus.Ok;
    }
}
