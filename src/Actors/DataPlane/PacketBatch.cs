using System.Runtime.CompilerServices;

namespace Fabric.Actors.DataPlane;

/// <summary>
/// Up to <see cref="Capacity"/> packets in one pooled buffer with parallel arrays: offset, captured length,
/// original (wire) length and timestamp of each packet. Decapsulation rewrites offsets and lengths in place
/// (the inner frame is a sub-range of the outer one) and compacts the arrays when it drops a packet; nothing is
/// copied. A batch is owned by one stage at a time; fan-out to several sinks is reference-counted and the
/// batch returns to its pool when the last sink releases it.
/// </summary>
public sealed class PacketBatch
{
    private readonly PacketBatchPool? _pool;
    private readonly byte[] _ownBuffer;
    private byte[] _buffer;
    private PacketBatch? _lender;
    private int _references;

    /// <param name="capacity">Packets.</param>
    /// <param name="bufferBytes">Bytes of its own buffer; 0 for a view (<see cref="Borrow"/>), which has none.</param>
    /// <param name="pool">The pool it returns to; null for a stand-alone batch.</param>
    internal PacketBatch(int capacity, int bufferBytes, PacketBatchPool? pool)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(bufferBytes);
        _pool = pool;
        _ownBuffer = bufferBytes == 0 ? [] : GC.AllocateUninitializedArray<byte>(bufferBytes, pinned: true);
        _buffer = _ownBuffer;
        Offsets = new int[capacity];
        CapturedLengths = new int[capacity];
        OriginalLengths = new int[capacity];
        Timestamps = new long[capacity];
        SourceIds = new ushort[capacity];
        Directions = new byte[capacity];
        SwitchTimestamps = new long[capacity];
    }

    /// <summary>A stand-alone batch that belongs to no pool (tools and tests).</summary>
    public static PacketBatch CreateUnpooled(int capacity, int bufferBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bufferBytes, 1);
        return new(capacity, bufferBytes, null);
    }

    /// <summary>A stand-alone view (see <see cref="Borrow"/>) that belongs to no pool (tools and tests).</summary>
    public static PacketBatch CreateUnpooledView(int capacity) => new(capacity, 0, null);

    /// <summary>The packet bytes; packet i is <c>Buffer[Offsets[i] .. Offsets[i] + CapturedLengths[i]]</c>. A view's
    /// buffer is the one of the batch it borrows from.</summary>
    public byte[] Buffer => _buffer;

    /// <summary>True while this batch is a view of another one's buffer (<see cref="Borrow"/>).</summary>
    public bool IsView => _lender is not null;

    public int[] Offsets { get; }

    public int[] CapturedLengths { get; }

    /// <summary>Length of the packet on the wire (for an inner frame: its own wire length, as far as known).</summary>
    public int[] OriginalLengths { get; }

    /// <summary>Capture time, nanoseconds since the Unix epoch (UTC).</summary>
    public long[] Timestamps { get; }

    /// <summary>Source id of each frame in <see cref="Sources"/> (set by the decap stage; 0 = other).</summary>
    public ushort[] SourceIds { get; }

    /// <summary>pcapng epb_flags direction of each frame: 0 unknown, 1 inbound, 2 outbound (ERSPAN III's D bit).</summary>
    public byte[] Directions { get; }

    /// <summary>ERSPAN III hardware time of each frame, nanoseconds on the switch's clock; 0: none.</summary>
    public long[] SwitchTimestamps { get; }

    /// <summary>The pipeline's source table that <see cref="SourceIds"/> index; null before the decap stage
    /// (or in a pipeline without one): every frame is then source 0.</summary>
    public Fabric.Protocols.Decap.SourceTable? Sources { get; set; }

    public int Capacity => Offsets.Length;

    /// <summary>Number of packets in the batch.</summary>
    public int Count { get; private set; }

    /// <summary>Bytes of <see cref="Buffer"/> in use (appends go after them).</summary>
    public int BufferUsed { get; private set; }

    /// <summary>Sequence number given by the producer, for tracing and ordering checks.</summary>
    public long Sequence { get; set; }

    public bool IsFull => Count == Capacity;

    /// <summary>Free bytes left in <see cref="Buffer"/>.</summary>
    public int FreeBytes => Buffer.Length - BufferUsed;

    /// <summary>The bytes of packet <paramref name="index"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public Span<byte> Packet(int index) => Buffer.AsSpan(Offsets[index], CapturedLengths[index]);

    /// <summary>Copies one packet in. False when the batch has no room for it (the caller hands the batch on
    /// and appends to a fresh one); a packet longer than the whole buffer is truncated to it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryAppend(ReadOnlySpan<byte> data, int originalLength, long timestampNs)
    {
        int count = Count;
        if (count == Capacity)
        {
            return false;
        }

        int length = data.Length;
        if (length > Buffer.Length)
        {
            length = Buffer.Length;
        }

        int used = BufferUsed;
        if (length > Buffer.Length - used)
        {
            return false;
        }

        data[..length].CopyTo(Buffer.AsSpan(used, length));
        Offsets[count] = used;
        CapturedLengths[count] = length;
        OriginalLengths[count] = originalLength;
        Timestamps[count] = timestampNs;
        SourceIds[count] = 0;
        Directions[count] = 0;
        SwitchTimestamps[count] = 0;
        BufferUsed = used + length;
        Count = count + 1;
        return true;
    }

    /// <summary>Reserves room for a packet that the caller writes itself (e.g. a native read straight into the
    /// buffer). Returns the offset, or -1 when <paramref name="length"/> bytes do not fit.</summary>
    public int Reserve(int length)
    {
        if (Count == Capacity || length > Buffer.Length - BufferUsed)
        {
            return -1;
        }

        int offset = BufferUsed;
        BufferUsed = offset + length;
        return offset;
    }

    /// <summary>Records a packet whose bytes are already in the buffer at <paramref name="offset"/>.</summary>
    public void Commit(int offset, int capturedLength, int originalLength, long timestampNs)
    {
        int count = Count;
        Offsets[count] = offset;
        CapturedLengths[count] = capturedLength;
        OriginalLengths[count] = originalLength;
        Timestamps[count] = timestampNs;
        SourceIds[count] = 0;
        Directions[count] = 0;
        SwitchTimestamps[count] = 0;
        Count = count + 1;
    }

    /// <summary>Keeps only the first <paramref name="count"/> entries (after a stage compacted the arrays).</summary>
    public void Truncate(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Count);
        Count = count;
    }

    /// <summary>Moves entry <paramref name="from"/> to <paramref name="to"/> (compaction; to &lt;= from).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void MoveEntry(int from, int to)
    {
        Offsets[to] = Offsets[from];
        CapturedLengths[to] = CapturedLengths[from];
        OriginalLengths[to] = OriginalLengths[from];
        Timestamps[to] = Timestamps[from];
        SourceIds[to] = SourceIds[from];
        Directions[to] = Directions[from];
        SwitchTimestamps[to] = SwitchTimestamps[from];
    }

    /// <summary>
    /// Makes this empty batch a view of <paramref name="source"/>'s buffer, to carry a subset of its packets
    /// (<see cref="AppendEntry"/>) without copying bytes: a stage that splits one batch into several (the balance
    /// sink) hands views on. The view holds one reference to <paramref name="source"/> (taken here) until its own
    /// last <see cref="Release"/>; nothing can be appended to it by copying.
    /// </summary>
    public void Borrow(PacketBatch source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (Count != 0 || _lender is not null || _ownBuffer.Length != 0)
        {
            throw new InvalidOperationException("Only an empty view batch can borrow another batch's buffer.");
        }

        source.Retain();
        _lender = source;
        _buffer = source._buffer;
        BufferUsed = _buffer.Length;
        Sources = source.Sources;
    }

    /// <summary>Appends packet <paramref name="index"/> of the batch this view borrows from (its entries: offsets,
    /// lengths, time, source id, direction; no bytes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void AppendEntry(PacketBatch source, int index)
    {
        int count = Count;
        Offsets[count] = source.Offsets[index];
        CapturedLengths[count] = source.CapturedLengths[index];
        OriginalLengths[count] = source.OriginalLengths[index];
        Timestamps[count] = source.Timestamps[index];
        SourceIds[count] = source.SourceIds[index];
        Directions[count] = source.Directions[index];
        SwitchTimestamps[count] = source.SwitchTimestamps[index];
        Count = count + 1;
    }

    /// <summary>Total captured bytes of the packets in the batch.</summary>
    public long TotalBytes()
    {
        long total = 0;
        var lengths = CapturedLengths;
        for (int i = 0; i < Count; i++)
        {
            total += lengths[i];
        }

        return total;
    }

    /// <summary>Empties the batch for reuse.</summary>
    public void Reset()
    {
        _buffer = _ownBuffer;
        _lender = null;
        Count = 0;
        BufferUsed = 0;
        Sequence = 0;
        Sources = null;
    }

    /// <summary>Current number of owners (0 while in the pool or being filled by its producer).</summary>
    public int References => Volatile.Read(ref _references);

    /// <summary>Sets the number of stages that will each call <see cref="Release"/> once. Called by the owner
    /// before it hands the batch to them.</summary>
    public void SetReferences(int owners)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(owners, 1);
        Volatile.Write(ref _references, owners);
    }

    /// <summary>One more owner of a batch that already has one (a view taken of it, <see cref="Borrow"/>).</summary>
    public void Retain()
    {
        if (Interlocked.Increment(ref _references) <= 1)
        {
            throw new InvalidOperationException("PacketBatch retained while it had no owner.");
        }
    }

    /// <summary>One owner is done. The last one returns the batch to its pool (a view also releases the batch it
    /// borrowed from).</summary>
    public void Release()
    {
        int left = Interlocked.Decrement(ref _references);
        if (left == 0)
        {
            var lender = _lender;
            if (_pool is not null)
            {
                _pool.Return(this);
            }
            else if (lender is not null)
            {
                Reset();
            }

            lender?.Release();
        }
        else if (left < 0)
        {
            throw new InvalidOperationException("PacketBatch released more often than it was referenced.");
        }
    }
}
