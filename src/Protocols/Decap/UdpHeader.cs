using System.Buffers.Binary;

namespace Fabric.Protocols.Decap;

/// <summary>
/// UDP header. RFC 768, https://www.rfc-editor.org/rfc/rfc768
/// <code>
///  0      7 8     15 16    23 24    31
/// +--------+--------+--------+--------+
/// |     Source      |   Destination   |
/// |      Port       |      Port       |
/// +--------+--------+--------+--------+
/// |                 |                 |
/// |     Length      |    Checksum     |
/// +--------+--------+--------+--------+
/// </code>
/// A Length of 0 is accepted (IPv6 jumbograms, RFC 2675; BIG TCP captures): the caller takes the
/// length from the IP payload.
/// </summary>
public readonly ref struct UdpHeader
{
    public const int SourcePortOffset = 0;
    public const int DestinationPortOffset = 2;
    public const int LengthOffset = 4;
    public const int ChecksumOffset = 6;
    public const int HeaderLength = 8;

    private UdpHeader(ushort sourcePort, ushort destinationPort, ushort length, ushort checksum)
    {
        SourcePort = sourcePort;
        DestinationPort = destinationPort;
        Length = length;
        Checksum = checksum;
    }

    public ushort SourcePort { get; }

    public ushort DestinationPort { get; }

    /// <summary>Header plus data, bytes (0: take it from the IP payload).</summary>
    public ushort Length { get; }

    public ushort Checksum { get; }

    /// <summary>Reads the header at the start of <paramref name="source"/>.</summary>
    public static DecapStatus TryRead(ReadOnlySpan<byte> source, out UdpHeader header)
    {
        header = default;
        if ((uint)source.Length < HeaderLength)
        {
            return DecapStatus.Truncated;
        }

        var length = BinaryPrimitives.ReadUInt16BigEndian(source.Slice(LengthOffset, 2));
        if (length is > 0 and < HeaderLength)
        {
            return DecapStatus.UdpBadLength;
        }

        header = new UdpHeader(
            BinaryPrimitives.ReadUInt16BigEndian(source.Slice(SourcePortOffset, 2)),
            BinaryPrimitives.ReadUInt16BigEndian(source.Slice(DestinationPortOffset, 2)),
            length,
            BinaryPrimitives.ReadUInt16BigEndian(source.Slice(ChecksumOffset, 2)));
        return DecapStatus.Ok;
    }
}
