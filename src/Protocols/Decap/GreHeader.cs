using System.Buffers.Binary;

namespace Fabric.Protocols.Decap;

/// <summary>
/// GRE header, version 0, with the optional checksum, key and sequence number words.
/// RFC 2784 section 2.1 (https://www.rfc-editor.org/rfc/rfc2784#section-2.1) and
/// RFC 2890 section 2 (https://www.rfc-editor.org/rfc/rfc2890#section-2).
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |C|R|K|S| Reserved0       | Ver |         Protocol Type         |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |      Checksum (optional)      |       Reserved1 (Optional)    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         Key (optional)                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                 Sequence Number (Optional)                    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// The R (routing present, RFC 1701) bit is reported as <see cref="DecapStatus.GreRoutingUnsupported"/>;
/// version 1 (PPTP enhanced GRE, RFC 2637) and others as <see cref="DecapStatus.GreVersionUnsupported"/>.
/// The other RFC 1701 bits (strict source route, recursion control) are ignored, as
/// RFC 2784 receivers of version 0 packets from RFC 1701 senders do.
/// </summary>
public readonly ref struct GreHeader
{
    public const int FlagsVersionOffset = 0;
    public const int ProtocolTypeOffset = 2;
    public const int BaseLength = 4;
    public const int OptionalWordLength = 4;

    public const ushort ChecksumPresentFlag = 0x8000;
    public const ushort RoutingPresentFlag = 0x4000;
    public const ushort KeyPresentFlag = 0x2000;
    public const ushort SequencePresentFlag = 0x1000;
    public const ushort VersionMask = 0x0007;

    public const ushort ProtocolIPv4 = 0x0800;
    public const ushort ProtocolIPv6 = 0x86DD;
    public const ushort ProtocolTransparentEthernetBridging = 0x6558;
    public const ushort ProtocolErspanI_II = 0x88BE;
    public const ushort ProtocolErspanIII = 0x22EB;

    private GreHeader(ushort flagsVersion, ushort protocolType, ushort checksum, uint key, uint sequenceNumber, int headerLength)
    {
        FlagsVersion = flagsVersion;
        ProtocolType = protocolType;
        Checksum = checksum;
        Key = key;
        SequenceNumber = sequenceNumber;
        HeaderLength = headerLength;
    }

    /// <summary>The first 16 bits: C, R, K, S, Reserved0, Ver.</summary>
    public ushort FlagsVersion { get; }

    public bool ChecksumPresent => (FlagsVersion & ChecksumPresentFlag) != 0;

    public bool KeyPresent => (FlagsVersion & KeyPresentFlag) != 0;

    public bool SequencePresent => (FlagsVersion & SequencePresentFlag) != 0;

    public int Version => FlagsVersion & VersionMask;

    /// <summary>EtherType of the payload.</summary>
    public ushort ProtocolType { get; }

    public ushort Checksum { get; }

    public uint Key { get; }

    public uint SequenceNumber { get; }

    /// <summary>4 plus 4 for each optional word present.</summary>
    public int HeaderLength { get; }

    /// <summary>Reads the header at the start of <paramref name="source"/>.</summary>
    public static DecapStatus TryRead(ReadOnlySpan<byte> source, out GreHeader header)
    {
        header = default;
        if ((uint)source.Length < BaseLength)
        {
            return DecapStatus.Truncated;
        }

        var flags = BinaryPrimitives.ReadUInt16BigEndian(source.Slice(FlagsVersionOffset, 2));
        if ((flags & VersionMask) != 0)
        {
            return DecapStatus.GreVersionUnsupported;
        }

        if ((flags & RoutingPresentFlag) != 0)
        {
            return DecapStatus.GreRoutingUnsupported;
        }

        var length = BaseLength;
        if ((flags & ChecksumPresentFlag) != 0)
        {
            length += OptionalWordLength;
        }

        if ((flags & KeyPresentFlag) != 0)
        {
            length += OptionalWordLength;
        }

        if ((flags & SequencePresentFlag) != 0)
        {
            length += OptionalWordLength;
        }

        if ((uint)source.Length < (uint)length)
        {
            return DecapStatus.Truncated;
        }

        var offset = BaseLength;
        ushort checksum = 0;
        uint key = 0;
        uint sequence = 0;
        if ((flags & ChecksumPresentFlag) != 0)
        {
            checksum = BinaryPrimitives.ReadUInt16BigEndian(source.Slice(offset, 2));
            offset += OptionalWordLength;
        }

        if ((flags & KeyPresentFlag) != 0)
        {
            key = BinaryPrimitives.ReadUInt32BigEndian(source.Slice(offset, 4));
            offset += OptionalWordLength;
        }

        if ((flags & SequencePresentFlag) != 0)
        {
            sequence = BinaryPrimitives.ReadUInt32BigEndian(source.Slice(offset, 4));
        }

        header = new GreHeader(flags, BinaryPrimitives.ReadUInt16BigEndian(source.Slice(ProtocolTypeOffset, 2)),
            checksum, key, sequence, length);
        return DecapStatus.Ok;
    }
}
