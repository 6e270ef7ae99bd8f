using System.Buffers.Binary;

namespace Fabric.Protocols.Decap;

/// <summary>
/// IPv6 header and its extension headers (hop-by-hop, routing, fragment, destination options).
/// RFC 8200 sections 3 and 4, https://www.rfc-editor.org/rfc/rfc8200
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version| Traffic Class |           Flow Label                  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         Payload Length        |  Next Header  |   Hop Limit   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                     Source Address (16)                       |
/// |                  Destination Address (16)                     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// Hop-by-hop (0), routing (43), destination options (60):
/// |  Next Header  |  Hdr Ext Len  |  (Hdr Ext Len + 1) * 8 bytes  ~
/// Fragment (44), 8 bytes:
/// |  Next Header  |   Reserved    |      Fragment Offset    |Res|M|
/// |                         Identification                        |
/// </code>
/// The walk stops at the first header that is not one of those four, or right after a fragment
/// header of a real fragment (what follows is fragment data). An atomic fragment (offset 0, M 0)
/// is walked through. A payload length of 0 (jumbogram, BIG TCP) is accepted: the caller takes the
/// length from the frame.
/// </summary>
public readonly ref struct Ipv6Header
{
    public const int PayloadLengthOffset = 4;
    public const int NextHeaderOffset = 6;
    public const int HopLimitOffset = 7;
    public const int SourceOffset = 8;
    public const int DestinationOffset = 24;
    public const int FixedLength = 40;
    public const int AddressLength = 16;
    public const int MaxExtensionHeaders = 8;

    public const byte HopByHop = 0;
    public const byte Routing = 43;
    public const byte Fragment = 44;
    public const byte DestinationOptions = 60;
    public const byte NoNextHeader = 59;

    private const int FragmentHeaderLength = 8;
    private const int FragmentOffsetFieldOffset = 2;
    private const int FragmentIdentificationOffset = 4;

    private Ipv6Header(ReadOnlySpan<byte> bytes, ushort payloadLength, byte nextHeader, int extensionCount,
        bool isFragment, int fragmentOffset, bool moreFragments, uint identification, int fragmentHeaderOffset,
        int fragmentLinkOffset)
    {
        FragmentLinkOffset = fragmentLinkOffset;
        Bytes = bytes;
        PayloadLength = payloadLength;
        NextHeader = nextHeader;
        ExtensionCount = extensionCount;
        IsFragment = isFragment;
        FragmentOffset = fragmentOffset;
        MoreFragments = moreFragments;
        Identification = identification;
        FragmentHeaderOffset = fragmentHeaderOffset;
    }

    /// <summary>Fixed header plus walked extension headers.</summary>
    public ReadOnlySpan<byte> Bytes { get; }

    /// <summary>40 plus the extension headers walked: where the upper-layer header (or the fragment data) starts.</summary>
    public int HeaderLength => Bytes.Length;

    /// <summary>Payload Length field (0: take it from the frame).</summary>
    public ushort PayloadLength { get; }

    /// <summary>Upper-layer protocol after the walked extension headers (for a fragment: the
    /// Next Header of the fragment header).</summary>
    public byte NextHeader { get; }

    public int ExtensionCount { get; }

    /// <summary>True for a real fragment (offset or M set).</summary>
    public bool IsFragment { get; }

    /// <summary>Fragment offset in bytes.</summary>
    public int FragmentOffset { get; }

    public bool MoreFragments { get; }

    public uint Identification { get; }

    /// <summary>Offset of the Next Header byte that names the fragment header (6, or the start of
    /// the extension header before it); -1 when none.</summary>
    public int FragmentLinkOffset { get; }

    /// <summary>Offset of the fragment header, -1 when none.</summary>
    public int FragmentHeaderOffset { get; }

    public ReadOnlySpan<byte> Source => Bytes.Slice(SourceOffset, AddressLength);

    public ReadOnlySpan<byte> Destination => Bytes.Slice(DestinationOffset, AddressLength);

    /// <summary>Reads the header and its extension headers at the start of <paramref name="source"/>.</summary>
    public static DecapStatus TryRead(ReadOnlySpan<byte> source, out Ipv6Header header)
    {
        header = default;
        if ((uint)source.Length < FixedLength)
        {
            return DecapStatus.Truncated;
        }

        if (source[0] >> 4 != 6)
        {
            return DecapStatus.IpBadVersion;
        }

        var payloadLength = BinaryPrimitives.ReadUInt16BigEndian(source.Slice(PayloadLengthOffset, 2));
        var next = source[NextHeaderOffset];
        var offset = FixedLength;
        var count = 0;
        var isFragment = false;
        var fragmentOffset = 0;
        var more = false;
        uint identification = 0;
        var fragmentHeaderOffset = -1;
        var linkOffset = NextHeaderOffset;
        var fragmentLinkOffset = -1;
        while (next is HopByHop or Routing or Fragment or DestinationOptions)
        {
            if (count == MaxExtensionHeaders)
            {
                return DecapStatus.Ipv6TooManyExtensionHeaders;
            }

            if ((uint)source.Length < (uint)(offset + 2))
            {
                return DecapStatus.Truncated;
            }

            count++;
            if (next == Fragment)
            {
                if ((uint)source.Length < (uint)(offset + FragmentHeaderLength))
                {
                    return DecapStatus.Truncated;
                }

                var field = BinaryPrimitives.ReadUInt16BigEndian(source.Slice(offset + FragmentOffsetFieldOffset, 2));
                fragmentHeaderOffset = offset;
                fragmentLinkOffset = linkOffset;
                linkOffset = offset;
                fragmentOffset = field & 0xFFF8;
                more = (field & 1) != 0;
                identification = BinaryPrimitives.ReadUInt32BigEndian(source.Slice(offset + FragmentIdentificationOffset, 4));
                next = source[offset];
                offset += FragmentHeaderLength;
                if (fragmentOffset != 0 || more)
                {
                    isFragment = true;
                    break;
                }

                continue;
            }

            var length = (source[offset + 1] + 1) << 3;
            if ((uint)source.Length < (uint)(offset + length))
            {
                return DecapStatus.Truncated;
            }

            next = source[offset];
            linkOffset = offset;
            offset += length;
        }

        header = new Ipv6Header(source[..offset], payloadLength, next, count, isFragment, fragmentOffset, more,
            identification, fragmentHeaderOffset, fragmentLinkOffset);
        return DecapStatus.Ok;
    }
}
