using System.Buffers.Binary;

namespace Fabric.Protocols.Decap;

/// <summary>
/// IPv4 header with options. RFC 791 section 3.1, https://www.rfc-editor.org/rfc/rfc791#section-3.1
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Version|  IHL  |Type of Service|          Total Length         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |         Identification        |Flags|      Fragment Offset    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |  Time to Live |    Protocol   |         Header Checksum       |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                       Source Address                          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Destination Address                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                    Options                    |    Padding    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// A Total Length of 0 is accepted (Linux BIG TCP / GSO captures): the caller then takes the
/// datagram's length from the frame.
/// </summary>
public readonly ref struct Ipv4Header
{
    public const int VersionIhlOffset = 0;
    public const int TotalLengthOffset = 2;
    public const int IdentificationOffset = 4;
    public const int FlagsFragmentOffset = 6;
    public const int TtlOffset = 8;
    public const int ProtocolOffset = 9;
    public const int ChecksumOffset = 10;
    public const int SourceOffset = 12;
    public const int DestinationOffset = 16;
    public const int MinLength = 20;
    public const int AddressLength = 4;

    public const byte ProtocolIPv4 = 4;
    public const byte ProtocolTcp = 6;
    public const byte ProtocolUdp = 17;
    public const byte ProtocolIPv6 = 41;
    public const byte ProtocolGre = 47;

    private const ushort MoreFragmentsFlag = 0x2000;
    private const ushort DontFragmentFlag = 0x4000;
    private const ushort FragmentOffsetMask = 0x1FFF;

    private Ipv4Header(ReadOnlySpan<byte> bytes, int headerLength, ushort totalLength, ushort identification,
        ushort flagsFragment, byte protocol)
    {
        Bytes = bytes;
        HeaderLength = headerLength;
        TotalLength = totalLength;
        Identification = identification;
        _flagsFragment = flagsFragment;
        Protocol = protocol;
    }

    private readonly ushort _flagsFragment;

    /// <summary>The header's bytes, options included.</summary>
    public ReadOnlySpan<byte> Bytes { get; }

    /// <summary>IHL * 4.</summary>
    public int HeaderLength { get; }

    /// <summary>Total Length field (0: take it from the frame).</summary>
    public ushort TotalLength { get; }

    public ushort Identification { get; }

    public byte Protocol { get; }

    public bool MoreFragments => (_flagsFragment & MoreFragmentsFlag) != 0;

    public bool DontFragment => (_flagsFragment & DontFragmentFlag) != 0;

    /// <summary>Fragment offset in bytes.</summary>
    public int FragmentOffset => (_flagsFragment & FragmentOffsetMask) << 3;

    /// <summary>True when this is one fragment of a larger datagram.</summary>
    public bool IsFragment => (_flagsFragment & (MoreFragmentsFlag | FragmentOffsetMask)) != 0;

    public ReadOnlySpan<byte> Source => Bytes.Slice(SourceOffset, AddressLength);

    public ReadOnlySpan<byte> Destination => Bytes.Slice(DestinationOffset, AddressLength);

    /// <summary>Reads the header at the start of <paramref name="source"/>.</summary>
    public static DecapStatus TryRead(ReadOnlySpan<byte> source, out Ipv4Header header)
    {
        header = default;
        if ((uint)source.Length < MinLength)
        {
            return DecapStatus.Truncated;
        }

        var versionIhl = source[VersionIhlOffset];
        if (versionIhl >> 4 != 4)
        {
            return DecapStatus.IpBadVersion;
        }

        var headerLength = (versionIhl & 0x0F) << 2;
        if (headerLength < MinLength)
        {
            return DecapStatus.Ipv4BadHeaderLength;
        }

        var totalLength = BinaryPrimitives.ReadUInt16BigEndian(source.Slice(TotalLengthOffset, 2));
        if (totalLength != 0 && totalLength < headerLength)
        {
            return DecapStatus.Ipv4BadTotalLength;
        }

        if ((uint)source.Length < (uint)headerLength)
        {
            return DecapStatus.Truncated;
        }

        header = new Ipv4Header(
            source[..headerLength],
            headerLength,
            totalLength,
            BinaryPrimitives.ReadUInt16BigEndian(source.Slice(IdentificationOffset, 2)),
            BinaryPrimitives.ReadUInt16BigEndian(source.Slice(FlagsFragmentOffset, 2)),
            source[ProtocolOffset]);
        return DecapStatus.Ok;
    }

    /// <summary>The RFC 1071 header checksum over <paramref name="header"/> (checksum field included:
    /// a valid header sums to 0).</summary>
    public static ushort ComputeChecksum(ReadOnlySpan<byte> header)
    {
        uint sum = 0;
        var i = 0;
        for (; i + 1 < header.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(header.Slice(i, 2));
        }

        if (i < header.Length)
        {
            sum += (uint)header[i] << 8;
        }

        while (sum > 0xFFFF)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)~sum;
    }
}
