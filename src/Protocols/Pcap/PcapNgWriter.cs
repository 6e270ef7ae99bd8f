using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace Fabric.Protocols.Pcap;

/// <summary>What both capture file writers offer to a sink that rotates, flushes and counts.</summary>
public interface ICaptureFileWriter : IDisposable
{
    /// <summary>Bytes of the file so far, including what is still buffered.</summary>
    long Length { get; }

    /// <summary>Packet records written so far.</summary>
    long RecordCount { get; }

    /// <summary>Packet records still in the buffer (lost if the stream never accepts them again).</summary>
    int BufferedRecords { get; }

    /// <summary>Captured bytes of the <see cref="BufferedRecords"/>.</summary>
    long BufferedFrameBytes { get; }

    /// <summary>Most bytes a record adds besides its frame (for size-based rotation).</summary>
    int MaxRecordOverhead { get; }

    /// <summary>Writes the buffered blocks to the stream and flushes it.</summary>
    void Flush();
}

/// <summary>
/// Writes pcapng (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-03.html), little-endian: one
/// Section Header Block, Interface Description Blocks added as they are needed (<see cref="AddInterface"/>,
/// with <c>if_name</c>, <c>if_description</c> and <c>if_tsresol</c> 6 or 9), and Enhanced Packet Blocks on
/// them, with <c>epb_flags</c> when the direction is known. Buffering and failure handling as
/// <see cref="PcapWriter"/>: the buffer holds whole blocks only, a failed write is cut back to the last
/// whole block, so the file never ends inside a block (after a crash, <c>PcapFiles.Repair</c> trims a torn
/// one). Writing a packet allocates nothing; adding an interface encodes its strings once.
/// </summary>
public sealed class PcapNgWriter : ICaptureFileWriter
{
    public const uint BlockTypeSectionHeader = 0x0A0D0D0A;
    public const uint BlockTypeInterfaceDescription = 1;
    public const uint BlockTypeEnhancedPacket = 6;
    public const uint ByteOrderMagic = 0x1A2B3C4D;

    public const ushort OptionEndOfOptions = 0;
    public const ushort OptionShbUserApplication = 4;
    public const ushort OptionIfName = 2;
    public const ushort OptionIfDescription = 3;
    public const ushort OptionIfTsresol = 9;
    public const ushort OptionEpbFlags = 2;

    /// <summary>epb_flags direction bits (bits 0-1).</summary>
    public const uint FlagsInbound = 1;
    public const uint FlagsOutbound = 2;

    /// <summary>EPB: block type, total length, interface, timestamp (2 words), captured and original length.</summary>
    public const int EnhancedPacketHeaderLength = 28;

    /// <summary>epb_flags option (4 + 4) and the end of options (4).</summary>
    private const int FlagsOptionLength = 12;

    /// <summary>Trailing block total length.</summary>
    private const int TrailerLength = 4;

    private readonly BufferedBlockWriter _out;
    private readonly int _snapLength;
    private readonly bool _nanoseconds;
    private bool _disposed;

    /// <summary>Writes the Section Header Block (buffered).</summary>
    /// <param name="stream">Where the file goes; written sequentially.</param>
    /// <param name="nanoseconds">Interfaces get <c>if_tsresol</c> 9 (nanoseconds) instead of 6.</param>
    /// <param name="snapLength">Frames longer than this are cut to it (original length kept); every IDB says it.</param>
    /// <param name="leaveOpen">Keep <paramref name="stream"/> open on dispose.</param>
    /// <param name="bufferSize">Size of the write buffer.</param>
    /// <param name="application"><c>shb_userappl</c>.</param>
    /// <param name="writeBehind">Two buffers: a worker writes one while blocks fill the other (see <see cref="PcapWriter"/>).</param>
    public PcapNgWriter(Stream stream, bool nanoseconds = false, int snapLength = PcapWriter.DefaultSnapLength, bool leaveOpen = false,
        int bufferSize = PcapWriter.DefaultBufferSize, string application = "Fabric", bool writeBehind = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfLessThan(snapLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(bufferSize, 4096);
        _snapLength = snapLength;
        _nanoseconds = nanoseconds;
        _out = new BufferedBlockWriter(stream, leaveOpen, bufferSize, writeBehind);

        var appl = Encoding.UTF8.GetBytes(application);
        var length = 16 + 8 + OptionLength(appl.Length) + 4 + TrailerLength;
        var block = _out.Reserve(length);
        BinaryPrimitives.WriteUInt32LittleEndian(block, BlockTypeSectionHeader);
        BinaryPrimitives.WriteInt32LittleEndian(block[4..], length);
        BinaryPrimitives.WriteUInt32LittleEndian(block[8..], ByteOrderMagic);
        BinaryPrimitives.WriteUInt16LittleEndian(block[12..], 1);
        BinaryPrimitives.WriteUInt16LittleEndian(block[14..], 0);
        BinaryPrimitives.WriteInt64LittleEndian(block[16..], -1);
        var at = 24 + WriteOption(block[24..], OptionShbUserApplication, appl);
        BinaryPrimitives.WriteUInt32LittleEndian(block[at..], 0);
        BinaryPrimitives.WriteInt32LittleEndian(block[(length - 4)..], length);
        _out.Commit(length, 0, record: false);
    }

    /// <summary>Creates (or replaces) a file and writes its Section Header Block.</summary>
    public static PcapNgWriter Create(string path, bool nanoseconds = false, int bufferSize = PcapWriter.DefaultBufferSize, bool writeBehind = false)
    {
        var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan);
        try
        {
            return new PcapNgWriter(stream, nanoseconds, leaveOpen: false, bufferSize: bufferSize, writeBehind: writeBehind);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    public long Length => _out.Length;

    public long RecordCount { get; private set; }

    public int BufferedRecords => _out.BufferedRecords;

    public long BufferedFrameBytes => _out.BufferedFrameBytes;

    /// <summary>Interfaces described so far; the next <see cref="AddInterface"/> gets this index.</summary>
    public int InterfaceCount { get; private set; }

    /// <summary>EPB header, padding, flags option, trailer.</summary>
    public int MaxRecordOverhead => EnhancedPacketHeaderLength + 3 + FlagsOptionLength + TrailerLength;

    /// <summary>Appends an Interface Description Block; returns its interface index.</summary>
    public int AddInterface(uint linkType, string name, string? description)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var descriptionBytes = description is null ? [] : Encoding.UTF8.GetBytes(description);
        var length = 16 + OptionLength(nameBytes.Length) + (description is null ? 0 : OptionLength(descriptionBytes.Length))
            + OptionLength(1) + 4 + TrailerLength;
        var block = _out.Reserve(length);
        BinaryPrimitives.WriteUInt32LittleEndian(block, BlockTypeInterfaceDescription);
        BinaryPrimitives.WriteInt32LittleEndian(block[4..], length);
        BinaryPrimitives.WriteUInt16LittleEndian(block[8..], (ushort)linkType);
        BinaryPrimitives.WriteUInt16LittleEndian(block[10..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(block[12..], (uint)_snapLength);
        var at = 16 + WriteOption(block[16..], OptionIfName, nameBytes);
        if (description is not null)
        {
            at += WriteOption(block[at..], OptionIfDescription, descriptionBytes);
        }

        at += WriteOption(block[at..], OptionIfTsresol, [_nanoseconds ? (byte)9 : (byte)6]);
        BinaryPrimitives.WriteUInt32LittleEndian(block[at..], 0);
        BinaryPrimitives.WriteInt32LittleEndian(block[(length - 4)..], length);
        _out.Commit(length, 0, record: false);
        return InterfaceCount++;
    }

    /// <summary>Appends an Enhanced Packet Block on <paramref name="interfaceId"/>.</summary>
    /// <param name="frame">The captured bytes (cut to the snapshot length).</param>
    /// <param name="interfaceId">An index returned by <see cref="AddInterface"/>.</param>
    /// <param name="timestampNs">Nanoseconds since the epoch (negative: 0).</param>
    /// <param name="originalLength">Length on the wire; never recorded below the captured length.</param>
    /// <param name="direction">epb_flags direction: 0 none (no option written), 1 inbound, 2 outbound.</param>
    public void Write(ReadOnlySpan<byte> frame, int interfaceId, long timestampNs, int originalLength, byte direction = 0)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if ((uint)interfaceId >= (uint)InterfaceCount)
        {
            throw new ArgumentOutOfRangeException(nameof(interfaceId), interfaceId, "no such interface in this file");
        }

        var captured = Math.Min(frame.Length, _snapLength);
        var padded = (captured + 3) & ~3;
        var length = EnhancedPacketHeaderLength + padded + (direction != 0 ? FlagsOptionLength : 0) + TrailerLength;
        var ticks = timestampNs <= 0 ? 0UL : _nanoseconds ? (ulong)timestampNs : (ulong)(timestampNs / 1_000L);
        if (length <= _out.Capacity)
        {
            var buffer = _out.Reserve(length, out var offset);
            FillPacket(buffer, offset, length, padded, interfaceId, ticks, frame[..captured], originalLength, direction);
            _out.Commit(length, captured, record: true);
        }
        else
        {
            // Larger than the whole buffer (a huge snap length): written through a temporary block.
            var big = new byte[length];
            FillPacket(big, 0, length, padded, interfaceId, ticks, frame[..captured], originalLength, direction);
            _out.WriteThrough(big, default);
        }

        RecordCount++;
    }

    public void Flush()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _out.Flush();
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _out.Dispose();
    }

    /// <summary>Writes one EPB at <paramref name="offset"/> of <paramref name="buffer"/>, which the caller has checked
    /// holds <paramref name="length"/> bytes there: the header as three 8-byte and one 4-byte store, the padding as
    /// one zero word written before the data lands over its front, the flags option as one 8-byte and one 4-byte
    /// store (no per-field span slicing or bounds checks on this per-packet path).</summary>
    private static void FillPacket(byte[] buffer, int offset, int length, int padded, int interfaceId, ulong ticks,
        ReadOnlySpan<byte> data, int originalLength, byte direction)
    {
        if ((uint)offset > (uint)buffer.Length || (uint)length > (uint)(buffer.Length - offset))
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, "block does not fit the buffer");
        }

        ref var block = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(buffer), offset);
        var captured = (uint)data.Length;
        Store(ref block, BlockTypeEnhancedPacket | ((ulong)(uint)length << 32));
        Store(ref Unsafe.Add(ref block, 8), (uint)interfaceId | ((ticks >> 32) << 32));
        Store(ref Unsafe.Add(ref block, 16), (ticks & 0xFFFF_FFFFUL) | ((ulong)captured << 32));
        Store(ref Unsafe.Add(ref block, 24), (uint)Math.Max(originalLength, data.Length));
        if (padded != data.Length)
        {
            Store(ref Unsafe.Add(ref block, EnhancedPacketHeaderLength + padded - 4), 0u);
        }

        Unsafe.CopyBlockUnaligned(ref Unsafe.Add(ref block, EnhancedPacketHeaderLength), ref MemoryMarshal.GetReference(data), captured);
        if (direction != 0)
        {
            ref var option = ref Unsafe.Add(ref block, EnhancedPacketHeaderLength + padded);
            Store(ref option, OptionEpbFlags | (4UL << 16) | ((ulong)(direction == 1 ? FlagsInbound : FlagsOutbound) << 32));
            Store(ref Unsafe.Add(ref option, 8), 0u);
        }

        Store(ref Unsafe.Add(ref block, length - 4), (uint)length);
    }

    private static void Store(ref byte destination, ulong value) =>
        Unsafe.WriteUnaligned(ref destination, BitConverter.IsLittleEndian ? value : BinaryPrimitives.ReverseEndianness(value));

    private static void Store(ref byte destination, uint value) =>
        Unsafe.WriteUnaligned(ref destination, BitConverter.IsLittleEndian ? value : BinaryPrimitives.ReverseEndianness(value));

    private static int OptionLength(int valueLength) => 4 + ((valueLength + 3) & ~3);

    private static int WriteOption(Span<byte> destination, ushort code, ReadOnlySpan<byte> value)
    {
        var length = OptionLength(value.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(destination, code);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[2..], (ushort)value.Length);
        value.CopyTo(destination[4..]);
        destination[(4 + value.Length)..length].Clear();
        return length;
    }
}
