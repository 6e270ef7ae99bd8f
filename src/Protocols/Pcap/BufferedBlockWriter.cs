namespace Fabric.Protocols.Pcap;

/// <summary>
/// The one buffering code path of the capture file writers (<see cref="PcapWriter"/>, <see cref="PcapNgWriter"/>):
/// records are encoded straight into a large buffer (<see cref="Reserve"/>, then <see cref="Commit"/>) and the
/// buffer goes to the stream in one write per fill. The buffer only ever holds whole records, so the file ends on a
/// record boundary after every write.
/// <para>
/// With write-behind, there are two buffers: when one is full, a thread-pool worker writes it while the caller fills
/// the other, so the write syscall (on tmpfs or the page cache, the kernel's copy into the file's pages: most of a
/// file decap's time) runs on a second core. At most one write is in flight; the next fill waits for it. It pays
/// only with a core to spare: on the saturated 2-core development machine it cost 15-17 % more CPU than writing
/// synchronously (docs/benchmarks.md, issue 16), so nothing turns it on by default.
/// </para>
/// <para>
/// Failures: a write that fails (disk full, I/O error) is cut back on a seekable stream to the end of the last
/// successful write, so the file never ends inside a record, and its records are kept: <see cref="BufferedRecords"/>
/// counts them, and a later <see cref="Flush"/> writes them first, in order, when the stream accepts data again.
/// With write-behind the failure surfaces on the caller's next <see cref="Reserve"/> that needs the buffer,
/// <see cref="Flush"/> or <see cref="Dispose"/>, as the same <see cref="IOException"/>: never silently.
/// </para>
/// </summary>
internal sealed class BufferedBlockWriter : IDisposable
{
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly long _origin;
    private byte[] _buffer;
    private int _used;
    private int _records;
    private long _frameBytes;

    // Write-behind: the buffer the worker is writing (or, after a failure, that still has to be written), its
    // byte count and the records and frame bytes in it; _spare is the other buffer while nothing is in flight.
    private readonly bool _writeBehind;
    private byte[]? _spare;
    private byte[]? _pending;
    private int _pendingUsed;
    private int _pendingRecords;
    private long _pendingFrameBytes;
    private Task? _inFlight;

    private long _written;
    private bool _disposed;

    /// <param name="stream">Where the file goes; written sequentially.</param>
    /// <param name="leaveOpen">Keep <paramref name="stream"/> open on dispose.</param>
    /// <param name="bufferSize">Bytes of each buffer (at least 4096).</param>
    /// <param name="writeBehind">Two buffers, written by a worker while the caller fills the other one.</param>
    public BufferedBlockWriter(Stream stream, bool leaveOpen, int bufferSize, bool writeBehind)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfLessThan(bufferSize, 4096);
        _stream = stream;
        _leaveOpen = leaveOpen;
        _origin = stream.CanSeek ? stream.Position : 0;
        _buffer = new byte[bufferSize];
        _writeBehind = writeBehind;
        _spare = writeBehind ? new byte[bufferSize] : null;
    }

    /// <summary>Bytes of one buffer: the largest block <see cref="Reserve"/> accepts.</summary>
    public int Capacity => _buffer.Length;

    /// <summary>Bytes of the file so far, including what is still buffered or in flight.</summary>
    public long Length { get; private set; }

    /// <summary>Records committed that are not known to be on the stream yet (buffered, in flight, or kept after a
    /// failed write): they are lost if the stream never accepts them again.</summary>
    public int BufferedRecords => _records + _pendingRecords;

    /// <summary>Frame bytes of the <see cref="BufferedRecords"/>.</summary>
    public long BufferedFrameBytes => _frameBytes + _pendingFrameBytes;

    /// <summary>
    /// Room for a block of <paramref name="length"/> (at most <see cref="Capacity"/>) bytes: the current buffer,
    /// written out first when it has less room. Encode the block at <c>buffer[offset..]</c>, then
    /// <see cref="Commit"/> it.
    /// </summary>
    /// <exception cref="IOException">Writing the full buffer (or, with write-behind, the previous one) failed.</exception>
    public byte[] Reserve(int length, out int offset)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if ((uint)length > (uint)_buffer.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, "block larger than the write buffer");
        }

        if (_buffer.Length - _used < length)
        {
            WriteBuffer();
        }

        offset = _used;
        return _buffer;
    }

    /// <summary>The span form of <see cref="Reserve(int, out int)"/>.</summary>
    public Span<byte> Reserve(int length) => Reserve(length, out var offset).AsSpan(offset, length);

    /// <summary>Adds the block just encoded at the reserved offset.</summary>
    /// <param name="length">Its bytes (at most what was reserved).</param>
    /// <param name="frameBytes">Captured bytes of the packet in it; with <paramref name="record"/> false, 0.</param>
    /// <param name="record">A packet record (counted in <see cref="BufferedRecords"/>), not a header block.</param>
    public void Commit(int length, int frameBytes, bool record)
    {
        _used += length;
        Length += length;
        if (record)
        {
            _records++;
            _frameBytes += frameBytes;
        }
    }

    /// <summary>Writes a block larger than <see cref="Capacity"/> straight to the stream, after what is buffered.
    /// The parts are written in order, as one block.</summary>
    public void WriteThrough(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Drain();
        try
        {
            _stream.Write(first);
            _stream.Write(second);
        }
        catch (IOException)
        {
            Rewind();
            throw;
        }

        _written += first.Length + second.Length;
        Length += first.Length + second.Length;
    }

    /// <summary>Writes everything buffered (kept blocks of a failed write first), waits for it, flushes the stream.</summary>
    public void Flush()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Drain();
        _stream.Flush();
    }

    /// <summary>Flushes (a failure is thrown, after the stream is closed) and closes the stream unless left open.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        try
        {
            Drain();
            _stream.Flush();
        }
        finally
        {
            // Never close the stream under a write in flight (Drain did not get to wait when it threw early).
            WaitQuietly();
            _disposed = true;
            if (!_leaveOpen)
            {
                _stream.Dispose();
            }
        }
    }

    /// <summary>Everything buffered on the stream, synchronously, in order.</summary>
    private void Drain()
    {
        Complete();
        WritePendingSynchronously();
        if (_used > 0)
        {
            WriteSynchronously(_buffer, _used);
            _written += _used;
            _used = 0;
            _records = 0;
            _frameBytes = 0;
        }
    }

    /// <summary>The current buffer is full: written now, or handed to the worker.</summary>
    private void WriteBuffer()
    {
        if (_used == 0)
        {
            return;
        }

        if (!_writeBehind)
        {
            WriteSynchronously(_buffer, _used);
            _written += _used;
            _used = 0;
            _records = 0;
            _frameBytes = 0;
            return;
        }

        Complete();
        WritePendingSynchronously();
        _pending = _buffer;
        _pendingUsed = _used;
        _pendingRecords = _records;
        _pendingFrameBytes = _frameBytes;
        _buffer = _spare!;
        _spare = null;
        _used = 0;
        _records = 0;
        _frameBytes = 0;
        var stream = _stream;
        var buffer = _pending;
        var count = _pendingUsed;
        _inFlight = Task.Run(() => stream.Write(buffer, 0, count));
    }

    /// <summary>Waits for the write in flight. Success: its buffer becomes the spare. Failure: the stream is cut back
    /// and the buffer kept as pending (written again first by the next write), and the failure is thrown.</summary>
    private void Complete()
    {
        var task = _inFlight;
        if (task is null)
        {
            return;
        }

        _inFlight = null;
        try
        {
            task.GetAwaiter().GetResult();
        }
        catch (IOException)
        {
            Rewind();
            throw;
        }

        Written(_pendingUsed);
    }

    /// <summary>A buffer kept after a failed write-behind: written now, before anything after it.</summary>
    private void WritePendingSynchronously()
    {
        if (_pending is null)
        {
            return;
        }

        WriteSynchronously(_pending, _pendingUsed);
        Written(_pendingUsed);
    }

    private void Written(int count)
    {
        _written += count;
        _spare ??= _pending;
        _pending = null;
        _pendingUsed = 0;
        _pendingRecords = 0;
        _pendingFrameBytes = 0;
    }

    private void WriteSynchronously(byte[] buffer, int count)
    {
        try
        {
            _stream.Write(buffer, 0, count);
        }
        catch (IOException)
        {
            Rewind();
            throw;
        }
    }

    /// <summary>Waits for the write in flight, if any, without throwing: in Dispose after a failure, when the first
    /// failure is what the caller sees.</summary>
    private void WaitQuietly()
    {
        try
        {
            Complete();
        }
        catch (IOException)
        {
            // Already failing; Complete has cut the stream back and kept the buffer.
        }
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
