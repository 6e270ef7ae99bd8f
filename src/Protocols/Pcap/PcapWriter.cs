using System.Buffers.Binary;

namespace Fabric.Protocols.Pcap;

/// <summary>
/// Writes classic pcap (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html), little-endian,
/// with microsecond or nanosecond timestamps. Records are gathered in an own buffer (1 MiB by default)
/// and written by large sequential writes; the buffer only ever holds whole records, so after
/// <see cref="Flush"/> or a normal <see cref="Dispose"/> the file ends on a record boundary.
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

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly byte[] _buffer;
    private readonly int _snapLength;
    private readonly bool _nanoseconds;
    private readonly long _origin;
    private int _used;
    private long _written;
    private bool _disposed;

    /// <summary>Writes the file header to <paramref name="stream"/> (buffered) and gets ready for records.</summary>
    /// <param name="stream">Where the file goes; written sequentially.</param>
    /// <param name="linkType">LINKTYPE_ of every record (see <see cref="LinkTypes"/>).</param>
    /// <param name="snapLength">Frames longer than this are cut to it (their original length is kept).</param>
    /// <param name="nanoseconds">Nanosecond magic (0xa1b23c4d) instead of microseconds.</param>
    /// <param name="leaveOpen">Keep <paramref name="stream"/> open on dispose.</param>
    /// <param name="bufferSize">Size of the write buffer.</param>
    public PcapWriter(Stream stream, uint linkType, int snapLength = DefaultSnapLength, bool nanoseconds = false, bool leaveOpen = false, int bufferSize = DefaultBufferSize)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfLessThan(snapLength, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(bufferSize, 4096);
        _stream = stream;
        _leaveOpen = leaveOpen;
        _snapLength = snapLength;
        _nanoseconds = nanoseconds;
        LinkType = linkType;
        _buffer = new byte[bufferSize];
        _origin = stream.CanSeek ? stream.Position : 0;

        var header = _buffer.AsSpan(0, FileHeaderLength);
        BinaryPrimitives.WriteUInt32LittleEndian(header, nanoseconds ? 0xA1B23C4Du : 0xA1B2C3D4u);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 4);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], (uint)snapLength);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], linkType);
        _used = FileHeaderLength;
        Length = FileHeaderLength;
    }

    /// <summary>Creates (or replaces) a file and writes its header.</summary>
    public static PcapWriter Create(string path, uint linkType, int snapLength = DefaultSnapLength, bool nanoseconds = false, int bufferSize = DefaultBufferSize)
    {
        var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan);
        try
        {
            return new PcapWriter(stream, linkType, snapLength, nanoseconds, leaveOpen: false, bufferSize);
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
    public long Length { get; private set; }

    /// <summary>Records written so far.</summary>
    public long RecordCount { get; private set; }

    /// <summary>Records accepted by <see cref="Write(ReadOnlySpan{byte}, long, int)"/> that are still in the buffer,
    /// not yet written to the stream (they are lost if the stream never accepts them again).</summary>
    public int BufferedRecords { get; private set; }

    /// <summary>Captured bytes of the <see cref="BufferedRecords"/> (without record headers).</summary>
    public long BufferedFrameBytes { get; private set; }

    /// <summary>Appends one record. Frames longer than the snapshot length are cut to it.</summary>
    /// <param name="frame">The captured bytes.</param>
    /// <param name="timestampNs">Nanoseconds since the Unix epoch (clamped to the format's range).</param>
    /// <param name="originalLength">Length on the wire; never recorded below the captured length.</param>
    public void Write(ReadOnlySpan<byte> frame, long timestampNs, int originalLength)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var captured = Math.Min(frame.Length, _snapLength);
        var total = RecordHeaderLength + captured;
        if (_buffer.Length - _used < total)
        {
            FlushBuffer();
        }

        var seconds = timestampNs <= 0 ? 0L : timestampNs / 1_000_000_000L;
        var fraction = timestampNs <= 0 ? 0L : timestampNs % 1_000_000_000L;
        if (seconds > uint.MaxValue)
        {
            seconds = uint.MaxValue;
            fraction = 999_999_999L;
        }

        Span<byte> header = stackalloc byte[RecordHeaderLength];
        BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)seconds);
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], (uint)(_nanoseconds ? fraction : fraction / 1_000L));
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], (uint)captured);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], (uint)Math.Max(originalLength, captured));

        if (total <= _buffer.Length)
        {
            header.CopyTo(_buffer.AsSpan(_used));
            frame[..captured].CopyTo(_buffer.AsSpan(_used + RecordHeaderLength));
            _used += total;
            BufferedRecords++;
            BufferedFrameBytes += captured;
        }
        else
        {
            // Larger than the whole buffer (a huge snap length): write it through; the buffer is empty here.
            try
            {
                _stream.Write(header);
                _stream.Write(frame[..captured]);
            }
            catch (IOException)
            {
                Rewind();
                throw;
            }

            _written += total;
        }

        Length += total;
        RecordCount++;
    }

    /// <summary>Appends a record read from a capture file, keeping its timestamp and original length.</summary>
    public void Write(in CaptureRecord record) => Write(record.Data, record.TimestampNs, record.OriginalLength);

    /// <summary>Writes the buffered records to the stream and flushes it.</summary>
    public void Flush()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        FlushBuffer();
        _stream.Flush();
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        try
        {
            FlushBuffer();
            _stream.Flush();
        }
        finally
        {
            _disposed = true;
            if (!_leaveOpen)
            {
                _stream.Dispose();
            }
        }
    }

    private void FlushBuffer()
    {
        if (_used == 0)
        {
            return;
        }

        try
        {
            _stream.Write(_buffer, 0, _used);
        }
        catch (IOException)
        {
            Rewind();
            throw;
        }

        _written += _used;
        _used = 0;
        BufferedRecords = 0;
        BufferedFrameBytes = 0;
    }

    /// <summary>After a failed write: cuts off whatever part of it reached the stream (a write can stop in the
    /// middle, e.g. when the disk fills), so the stream ends on a record boundary again.</summary>
    private void Rewind()
    {
        if (!_stream.CanSeek)
        {
            return;
        }

        try
        {
            _stream.SetLength(_origin + _written);
            _stream.Position = _origin + _written;
        }
        catch (IOException)
        {
            // The stream cannot even be cut back; a reader sees a torn last record (PcapFiles.Repair trims it).
        }
    }
}
