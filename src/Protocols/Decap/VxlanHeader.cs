using System.Buffers.Binary;

namespace Fabric.Protocols.Decap;

/// <summary>
/// VXLAN header. RFC 7348 section 5, https://www.rfc-editor.org/rfc/rfc7348#section-5
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |R|R|R|R|I|R|R|R|            Reserved                           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                VXLAN Network Identifier (VNI) |   Reserved    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// The I flag must be set (<see cref="DecapStatus.VxlanInvalidFlags"/> otherwise). Whether
/// reserved bits matter is policy: <see cref="ReservedBitsSet"/> tells, the decapsulator decides.
/// </summary>
public readonly ref struct VxlanHeader
{
    public const int FlagsOffset = 0;
    public const int VniOffset = 4;
    public const int HeaderLength = 8;
    public const byte IFlag = 0x08;

    private VxlanHeader(byte flags, uint vni, bool reservedBitsSet)
    {
        Flags = flags;
        Vni = vni;
        ReservedBitsSet = reservedBitsSet;
    }

    public byte Flags { get; }

    /// <summary>24-bit VXLAN Network Identifier.</summary>
    public uint Vni { get; }

    /// <summary>Any flag other than I, or any reserved field, is non-zero.</summary>
    public bool ReservedBitsSet { get; }

    /// <summary>Reads the header at the start of <paramref name="source"/>.</summary>
    public static DecapStatus TryRead(ReadOnlySpan<byte> source, out VxlanHeader header)
    {
        header = default;
        if ((uint)source.Length < HeaderLength)
        {
            return DecapStatus.Truncated;
        }

        var first = BinaryPrimitives.ReadUInt32BigEndian(source[..4]);
        var second = BinaryPrimitives.ReadUInt32BigEndian(source.Slice(VniOffset, 4));
        var flags = (byte)(first >> 24);
        if ((flags & IFlag) == 0)
        {
            return DecapStatus.VxlanInvalidFlags;
        }

        var reserved = (first & ~((uint)IFlag << 24)) != 0 || (second & 0xFF) != 0;
        header = new VxlanHeader(flags, second >> 8, reserved);
        return DecapStatus.Ok;
    }
}
