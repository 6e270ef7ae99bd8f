using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Fabric.Protocols.Decap;

/// <summary>Odd-width big-endian fields (24-bit VNI, 10-bit ERSPAN session id...).</summary>
internal static class Bits
{
    /// <summary>Reads a 24-bit big-endian value from the first 3 bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint ReadUInt24BigEndian(ReadOnlySpan<byte> source)
        => ((uint)source[0] << 16) | ((uint)source[1] << 8) | source[2];

    /// <summary>Writes a 24-bit big-endian value into the first 3 bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WriteUInt24BigEndian(Span<byte> destination, uint value)
    {
        destination[2] = (byte)value;
        destination[1] = (byte)(value >> 8);
        destination[0] = (byte)(value >> 16);
    }

    /// <summary>Reads a 32-bit big-endian word (a named wrapper, so readers read one way).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Word(ReadOnlySpan<byte> source, int offset)
        => BinaryPrimitives.ReadUInt32BigEndian(source.Slice(offset, 4));
}
