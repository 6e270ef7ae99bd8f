using System.Buffers.Binary;

namespace Fabric.Protocols.Decap;

/// <summary>
/// Geneve header and its options. RFC 8926 section 3.4 and 3.5,
/// https://www.rfc-editor.org/rfc/rfc8926#section-3.4
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |Ver|  Opt Len  |O|C|    Rsvd.  |          Protocol Type        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |        Virtual Network Identifier (VNI)       |    Reserved   |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ~                    Variable-Length Options                    ~
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// Each option:
/// |          Option Class         |      Type     |R|R|R| Length  |
/// ~                  Variable-Length Option Data                  ~
/// </code>
/// Opt Len and an option's Length count 4-byte words (an option's excluding its 4-byte header).
/// The options are walked once in <see cref="TryRead"/> to check their lengths; iterate them
/// with <see cref="GetOptions"/>, which allocates nothing.
/// </summary>
public readonly ref struct GeneveHeader
{
    public const int VersionOptLenOffset = 0;
    public const int FlagsOffset = 1;
    public const int ProtocolTypeOffset = 2;
    public const int VniOffset = 4;
    public const int BaseLength = 8;
    public const int OptionHeaderLength = 4;
    public const int ExpectedVersion = 0;

    public const byte OFlag = 0x80;
    public const byte CFlag = 0x40;

    /// <summary>Amazon Web Services option class (Gateway Load Balancer, Traffic Mirroring).</summary>
    public const ushort OptionClassAws = 0x0108;
    public const byte AwsGwlbEndpointIdType = 1;
    public const byte AwsGwlbAttachmentIdType = 2;
    public const byte AwsGwlbFlowCookieType = 3;

    /// <summary>The critical bit of an option's Type (RFC 8926 section 3.5).</summary>
    public const byte OptionCriticalBit = 0x80;

    private GeneveHeader(ReadOnlySpan<byte> bytes, byte flags, ushort protocolType, uint vni)
    {
        Bytes = bytes;
        Flags = flags;
        ProtocolType = protocolType;
        Vni = vni;
    }

    /// <summary>The fixed header and the options.</summary>
    public ReadOnlySpan<byte> Bytes { get; }

    public int HeaderLength => Bytes.Length;

    public byte Flags { get; }

    /// <summary>O bit: a control (OAM) message.</summary>
    public bool Control => (Flags & OFlag) != 0;

    /// <summary>C bit: critical options present.</summary>
    public bool Critical => (Flags & CFlag) != 0;

    public ushort ProtocolType { get; }

    public uint Vni { get; }

    /// <summary>The option TLVs, without allocation.</summary>
    public GeneveOptionEnumerator GetOptions() => new(Bytes[BaseLength..]);

    /// <summary>Reads the header and validates its options at the start of <paramref name="source"/>.</summary>
    public static DecapStatus TryRead(ReadOnlySpan<byte> source, out GeneveHeader header)
    {
        header = default;
        if ((uint)source.Length < BaseLength)
        {
            return DecapStatus.Truncated;
        }

        var first = source[VersionOptLenOffset];
        if (first >> 6 != ExpectedVersion)
        {
            return DecapStatus.GeneveBadVersion;
        }

        var length = BaseLength + ((first & 0x3F) << 2);
        if ((uint)source.Length < (uint)length)
        {
            return DecapStatus.Truncated;
        }

        var options = source[BaseLength..length];
        var offset = 0;
        while (offset < options.Length)
        {
            if (options.Length - offset < OptionHeaderLength)
            {
                return DecapStatus.GeneveBadOptionLength;
            }

            var optionLength = OptionHeaderLength + ((options[offset + 3] & 0x1F) << 2);
            if (optionLength > options.Length - offset)
            {
                return DecapStatus.GeneveBadOptionLength;
            }

            offset += optionLength;
        }

        header = new GeneveHeader(source[..length], source[FlagsOffset],
            BinaryPrimitives.ReadUInt16BigEndian(source.Slice(ProtocolTypeOffset, 2)),
            BinaryPrimitives.ReadUInt32BigEndian(source.Slice(VniOffset, 4)) >> 8);
        return DecapStatus.Ok;
    }
}

/// <summary>One Geneve option TLV.</summary>
public readonly ref struct GeneveOption
{
    public GeneveOption(ushort optionClass, byte type, ReadOnlySpan<byte> data)
    {
        OptionClass = optionClass;
        Type = type;
        Data = data;
    }

    public ushort OptionClass { get; }

    /// <summary>Type; the high bit marks a critical option.</summary>
    public byte Type { get; }

    public ReadOnlySpan<byte> Data { get; }
}

/// <summary>Walks Geneve options (already length-checked by <see cref="GeneveHeader.TryRead"/>).</summary>
public ref struct GeneveOptionEnumerator
{
    private readonly ReadOnlySpan<byte> _options;
    private int _next;
    private GeneveOption _current;

    internal GeneveOptionEnumerator(ReadOnlySpan<byte> options)
    {
        _options = options;
        _next = 0;
        _current = default;
    }

    public readonly GeneveOption Current => _current;

    public readonly GeneveOptionEnumerator GetEnumerator() => this;

    public bool MoveNext()
    {
        if (_options.Length - _next < GeneveHeader.OptionHeaderLength)
        {
            return false;
        }

        var dataLength = (_options[_next + 3] & 0x1F) << 2;
        if (dataLength > _options.Length - _next - GeneveHeader.OptionHeaderLength)
        {
            return false;
        }

        _current = new GeneveOption(
            BinaryPrimitives.ReadUInt16BigEndian(_options.Slice(_next, 2)),
            _options[_next + 2],
            _options.Slice(_next + GeneveHeader.OptionHeaderLength, dataLength));
        _next += GeneveHeader.OptionHeaderLength + dataLength;
        return true;
    }
}
