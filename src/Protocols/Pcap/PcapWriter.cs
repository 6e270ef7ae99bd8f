using System.Buffers.Binary;

namespace Fabric.Protocols.Pcap;

/// <summary>
/// Writes classic pcap (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html), little-endian,
/// with microsecond or nanosecond timestamps. Records are encoded straight into a large buffer (1 MiB by default)
/// and written by large sequential writes, optionally by a worker while the next buffer fills (write-behind); see
/// <see cref="BufferedBlockWriter"/>. The buffer only ever holds whole records, so after <see cref="Flush"/> or a
/// normal <see cref="Dispose"/> the file ends on a record boundary.
/// When writing the buffer fails (disk full, I/O error), a seekable stream is cut back to the end of the last
/// successful write, so the file never ends inside a record, and the buffer keeps its records: a later
/// <see cref="Flush"/> writes them when the stream accepts data again. Writing a record allocates nothing.
/// </summary>
public sealed class PcapWriter : ICaptureFileWriter
{
    /// <summary>Default size of the write buffer.</summary>
    public const int DefaultBufferSize = 1 << 20;

    /// <summary>Default snapshot length: libpcap's MAXIMUM_SNAPLEN.</summary>
    public const int DefaultSnapLength = 262_144;

    /// <summary>Bytes of the file header.</summary>
    public const int FileHeaderLength = 24;

    /// <summary>Bytes of each record header.</summary>
    public const int RecordHeaderLength = 16;

    private readonly BufferedBlockWriter _out;
    private readonly int _snapLength;
    private readonly bool _nanoseconds;
    private bool _disposed;

    /// <summary>Writes the file header to <paramref name="stream"/> (buffered) and gets ready for records.</summary>
    /// <param name="stream">Where the file goes; written sequentially.</param>
    /// <param name="linkType">LINKTYPE_ of every record (see <see cref="LinkTypes"/>).</param>
    /// <param name="snapLength">Frames longer than this are cut to it (their original length is kept).</param>
    /// <param name="nanoseconds">Nanosecond magic (0xa1b23c4d) instead of microseconds.</param>
    /// <param name="leaveOpen">Keep <paramref name="stream"/> open on dispose.</param>
    /// <param name="bufferSize">Size of the write buffer.</param>
    /// <param name="writeBehind">Two buffers: a worker writes one while records fill the other. A write failure then
    /// surfaces on a later <see cref="Write(ReadOnlySpan{byte}, long, int)"/>, <see cref="Flush"/> or <see cref="Dispose"/>.</param>
    public PcapWriter(Stream stream, uint linkType, int snapLength = DefaultSnapLength, bool nanoseconds = false, bool leaveOpen = false,
        int bufferSize = DefaultBufferSize, bool writeBehind = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfLessThan(snapLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(bufferSize, 4096);
        _snapLength = snapLength;
        _nanoseconds = nanoseconds;
        LinkType = linkType;
        _out = new BufferedBlockWriter(stream, leaveOpen, bufferSize, writeBehind);
        WriteFileHeader(_out.Reserve(FileHeaderLength), linkType, snapLength, nanoseconds);
        _out.Commit(FileHeaderLength, 0, record: false);
    }

    /// <summary>Creates (or replaces) a file and writes its header.</summary>
    public static PcapWriter Create(string path, uint linkType, int snapLength = DefaultSnapLength, bool nanoseconds = false,
        int bufferSize = DefaultBufferSize, bool writeBehind = false)
    {
        var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan);
        try
        {
            return new PcapWriter(stream, linkType, snapLength, nanoseconds, leaveOpen: false, bufferSize, writeBehind);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>The record header.</summary>
    public int MaxRecordOverhead => RecordHeaderLength;

    /// <summary>The link type written in the header.</summary>
    public uint LinkType { get; }

    /// <summary>Bytes of the file so far, including what is still buffered (for size-based rotation).</summary>
    public long Length => _out.Length;

    /// <summary>Records written so far.</summary>
    public long RecordCount { get; private set; }

    /// <summary>Records accepted by <see cref="Write(ReadOnlySpan{byte}, long, int)"/> that are still in the buffer (or
    /// in flight), not yet written to the stream (they are lost if the stream never accepts them again).</summary>
    public int BufferedRecords => _out.BufferedRecords;

    /// <summary>Captured bytes of the <see cref="BufferedRecords"/> (without record headers).</summary>
    public long BufferedFrameBytes => _out.BufferedFrameBytes;

    /// <summary>Encodes a classic pcap file header (version 2.4, little-endian) into the first
    /// <see cref="FileHeaderLength"/> bytes of <paramref name="destination"/>.</summary>
    public static void WriteFileHeader(Span<byte> destination, uint linkType, int snapLength, bool nanoseconds)
    {
        var header = destination[..FileHeaderLength];
        BinaryPrimitives.WriteUInt32LittleEndian(header, nanoseconds ? 0xA1B23C4Du : 0xA1B2C3D4u);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 4);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], (uint)snapLength);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], linkType);
    }

    /// <summary>Encodes a record header into the first <see cref="RecordHeaderLength"/> bytes of
    /// <paramref name="destination"/>: the time (negative: 0; beyond 2106: the last representable second), the captured
    /// length, and the original length, never below the captured one.</summary>
    public static void WriteRecordHeader(Span<byte> destination, long timestampNs, int captured, int originalLength, bool nanoseconds)
    {
        var header = destination[..RecordHeaderLength];
        var seconds = timestampNs <= 0 ? 0L : timestampNs / 1_000_000_000L;
        var fraction = timestampNs <= 0 ? 0L : timestampNs % 1_000_000_000L;
        if (seconds > uint.MaxValue)
        {
            seconds = uint.MaxValue;
            fraction = 999_999_999L;
        }

        BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)seconds);
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], (uint)(nanoseconds ? fraction : fraction / 1_000L));
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], (uint)captured);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], (uint)Math.Max(originalLength, captured));
    }

    /// <summary>Appends one record. Frames longer than the snapshot length are cut to it.</summary>
    /// <param name="frame">The captured bytes.</param>
    /// <param name="timestampNs">Nanoseconds since the Unix epoch (clamped to the format's range).</param>
    /// <param name="originalLength">Length on the wire; never recorded below the captured length.</param>
    public void Write(ReadOnlySpan<byte> frame, long timestampNs, int originalLength)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var captured = Math.Min(frame.Length, _snapLength);
        var total = RecordHeaderLength + captured;
        if (total <= _out.Capacity)
        {
            var buffer = _out.Reserve(total, out var offset);
            var record = buffer.AsSpan(offset, total);
            WriteRecordHeader(record, timestampNs, captured, originalLength, _nanoseconds);
            frame[..captured].CopyTo(record[RecordHeaderLength..]);
            _out.Commit(total, captured, record: true);
        }
        else
        {
            // Larger than the whole buffer (a huge snap length): written through, after what is buffered.
            Span<byte> header = stackalloc byte[RecordHeaderLength];
            WriteRecordHeader(header, timestampNs, captured, originalLength, _nanoseconds);
            _out.WriteThrough(header, frame[..captured]);
        }

        RecordCount++;
    }

    /// <summary>Appends a record read from a capture file, keeping its timestamp and original length.</summary>
    public void Write(in CaptureRecord record) => Write(record.Data, record.TimestampNs, record.OriginalLength);

    /// <summary>Writes the buffered records to the stream and flushes it.</summary>
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
}
