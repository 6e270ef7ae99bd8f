using System.Buffers.Binary;
using K4os.Compression.LZ4;
using ZstdSharp;

namespace Fabric.Protocols.NodeStream;

/// <summary>
/// Builds stream records (docs/stream-protocol.md): frames are added to a raw payload (per frame: timestamp,
/// original length, captured length, bytes), then <see cref="Finish"/> compresses it once for the whole batch and
/// writes header and payload into one buffer, ready for one write. Owned by one thread; reused for every record.
/// </summary>
public sealed class StreamRecordEncoder : IDisposable
{
    private readonly StreamCompression _compression;
    private readonly LZ4Level _lz4Level;
    private readonly Compressor? _zstd;
    private byte[] _raw;
    private int _rawLength;
    private int _frames;

    /// <param name="compression">How each record's payload is compressed.</param>
    /// <param name="level">Compression level: LZ4 0-12 (0 and 1: the fast compressor; 3-12: LZ4 HC), zstd 1-19.</param>
    /// <param name="initialBytes">Initial size of the raw buffer (it grows up to the protocol's limit).</param>
    public StreamRecordEncoder(StreamCompression compression, int level, int initialBytes = 1 << 20)
    {
        _compression = compression;
        _lz4Level = level <= 2 ? LZ4Level.L00_FAST : (LZ4Level)Math.Min(level, 12);
        _zstd = compression == StreamCompression.Zstd ? new Compressor(Math.Clamp(level, 1, 19)) : null;
        _raw = new byte[Math.Clamp(initialBytes, 4096, StreamRecordHeader.MaxRawLength)];
    }

    /// <summary>Frames added since the last <see cref="Reset"/>.</summary>
    public int FrameCount => _frames;

    /// <summary>Raw payload bytes added since the last <see cref="Reset"/>.</summary>
    public int RawLength => _rawLength;

    public void Reset()
    {
        _rawLength = 0;
        _frames = 0;
    }

    /// <summary>Adds one frame; false (nothing added) when the record would exceed the protocol's frame or byte
    /// limit: the caller finishes this record and starts another.</summary>
    public bool TryAdd(ReadOnlySpan<byte> frame, int originalLength, long timestampNs)
    {
        int needed = StreamRecordHeader.FrameHeaderLength + frame.Length;
        if (_frames == StreamRecordHeader.MaxFrames || needed > StreamRecordHeader.MaxRawLength - _rawLength)
        {
            return false;
        }

        if (needed > _raw.Length - _rawLength)
        {
            Array.Resize(ref _raw, (int)Math.Min(StreamRecordHeader.MaxRawLength, Math.Max((long)_raw.Length * 2, (long)_rawLength + needed)));
        }

        var at = _raw.AsSpan(_rawLength);
        BinaryPrimitives.WriteInt64BigEndian(at, timestampNs);
        BinaryPrimitives.WriteUInt32BigEndian(at[8..], (uint)originalLength);
        BinaryPrimitives.WriteUInt32BigEndian(at[12..], (uint)frame.Length);
        frame.CopyTo(at[StreamRecordHeader.FrameHeaderLength..]);
        _rawLength += needed;
        _frames++;
        return true;
    }

    /// <summary>The largest record (header and payload) <see cref="Finish"/> may write for the frames added so far.</summary>
    public int MaxRecordLength => StreamRecordHeader.Length + _compression switch
    {
        StreamCompression.Lz4 => LZ4Codec.MaximumOutputSize(_rawLength),
        StreamCompression.Zstd => (int)Compressor.GetCompressBound(_rawLength),
        _ => _rawLength,
    };

    /// <summary>Writes the record of the frames added so far into <paramref name="output"/> (grown when it is too
    /// small) and returns its length. A payload that compression would make larger is sent uncompressed.</summary>
    public int Finish(ulong streamId, ulong sequence, ulong framesBefore, ref byte[] output)
    {
        if (_frames == 0)
        {
            throw new InvalidOperationException("A stream record needs at least one frame.");
        }

        int max = MaxRecordLength;
        if (output.Length < max)
        {
            output = new byte[max];
        }

        var raw = _raw.AsSpan(0, _rawLength);
        var payload = output.AsSpan(StreamRecordHeader.Length);
        int length = _compression switch
        {
            StreamCompression.Lz4 => LZ4Codec.Encode(raw, payload, _lz4Level),
            StreamCompression.Zstd => _zstd!.Wrap(raw, payload),
            _ => -1,
        };
        var compression = _compression;
        if (length <= 0 || length >= _rawLength)
        {
            raw.CopyTo(payload);
            length = _rawLength;
            compression = StreamCompression.None;
        }

        new StreamRecordHeader(compression, _frames, streamId, sequence, framesBefore, _rawLength, length).Write(output);
        return StreamRecordHeader.Length + length;
    }

    public void Dispose() => _zstd?.Dispose();
}

/// <summary>
/// Decodes the payload of a record whose header <see cref="StreamRecordHeader.TryRead"/> accepted: decompresses it
/// into a buffer of exactly the announced raw length (never more: a zip bomb stops there and is refused as
/// <see cref="StreamDecodeStatus.BadPayload"/>), then checks that the frames fill it exactly. Owned by one connection.
/// </summary>
public sealed class StreamRecordDecoder : IDisposable
{
    private readonly int _maxRawLength;
    private readonly Decompressor _zstd = new();
    private byte[] _raw = new byte[4096];

    /// <param name="maxRawLength">This receiver's limit for a record's raw payload (at most the protocol's).</param>
    public StreamRecordDecoder(int maxRawLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRawLength, StreamRecordHeader.FrameHeaderLength);
        _maxRawLength = Math.Min(maxRawLength, StreamRecordHeader.MaxRawLength);
    }

    /// <summary>This receiver's limit for a record's raw payload.</summary>
    public int MaxRawLength => _maxRawLength;

    /// <summary>Checks the header's lengths against this receiver's limit (before the payload is read).</summary>
    public StreamDecodeStatus Admit(in StreamRecordHeader header) =>
        header.RawLength > _maxRawLength || header.PayloadLength > _maxRawLength + (_maxRawLength / 128) + 1024
            ? StreamDecodeStatus.TooLarge
            : StreamDecodeStatus.Ok;

    /// <summary>Decodes <paramref name="payload"/>; on <see cref="StreamDecodeStatus.Ok"/>, <paramref name="frames"/>
    /// walks its frames (valid until the next call).</summary>
    public StreamDecodeStatus Decode(in StreamRecordHeader header, ReadOnlySpan<byte> payload, out StreamFrames frames)
    {
        frames = default;
        if (Admit(header) != StreamDecodeStatus.Ok || payload.Length != header.PayloadLength)
        {
            return StreamDecodeStatus.TooLarge;
        }

        ReadOnlySpan<byte> raw;
        if (header.Compression == StreamCompression.None)
        {
            raw = payload;
        }
        else
        {
            if (_raw.Length < header.RawLength)
            {
                _raw = new byte[Math.Max(header.RawLength, Math.Min(_raw.Length * 2, _maxRawLength))];
            }

            var destination = _raw.AsSpan(0, header.RawLength);
            int written;
            try
            {
                written = header.Compression == StreamCompression.Lz4
                    ? LZ4Codec.Decode(payload, destination)
                    : (_zstd.TryUnwrap(payload, destination, out int w) ? w : -1);
            }
            catch (ZstdException)
            {
                written = -1;
            }

            if (written != header.RawLength)
            {
                return StreamDecodeStatus.BadPayload;
            }

            raw = destination;
        }

        var status = StreamFrames.Check(raw, header.FrameCount);
        if (status == StreamDecodeStatus.Ok)
        {
            frames = new StreamFrames(raw, header.FrameCount);
        }

        return status;
    }

    public void Dispose() => _zstd.Dispose();
}

/// <summary>The frames of a decoded record's raw payload (checked by <see cref="Check"/>).</summary>
public readonly ref struct StreamFrames
{
    private readonly ReadOnlySpan<byte> _raw;

    internal StreamFrames(ReadOnlySpan<byte> raw, int count)
    {
        _raw = raw;
        Count = count;
    }

    public int Count { get; }

    /// <summary>True when exactly <paramref name="count"/> frames fill <paramref name="raw"/>, each with a captured
    /// length of at most 262,144 bytes and no more than its original length, which is below 2^31.</summary>
    internal static StreamDecodeStatus Check(ReadOnlySpan<byte> raw, int count)
    {
        int at = 0;
        for (int i = 0; i < count; i++)
        {
            if ((uint)(raw.Length - at) < StreamRecordHeader.FrameHeaderLength)
            {
                return StreamDecodeStatus.BadFrames;
            }

            uint original = BinaryPrimitives.ReadUInt32BigEndian(raw[(at + 8)..]);
            uint captured = BinaryPrimitives.ReadUInt32BigEndian(raw[(at + 12)..]);
            at += StreamRecordHeader.FrameHeaderLength;
            if (captured > MaxFrameLength || captured > original || original > int.MaxValue || captured > (uint)(raw.Length - at))
            {
                return StreamDecodeStatus.BadFrames;
            }

            at += (int)captured;
        }

        return at == raw.Length ? StreamDecodeStatus.Ok : StreamDecodeStatus.BadFrames;
    }

    /// <summary>Largest captured length of one frame (a pipeline's largest snaplen).</summary>
    public const int MaxFrameLength = 262144;

    public Enumerator GetEnumerator() => new(_raw);

    /// <summary>Walks the frames in order.</summary>
    public ref struct Enumerator
    {
        private readonly ReadOnlySpan<byte> _raw;
        private int _next;

        internal Enumerator(ReadOnlySpan<byte> raw)
        {
            _raw = raw;
            _next = 0;
            Current = default;
        }

        public StreamFrame Current { get; private set; }

        public bool MoveNext()
        {
            if (_next >= _raw.Length)
            {
                return false;
            }

            var at = _raw[_next..];
            int captured = (int)BinaryPrimitives.ReadUInt32BigEndian(at[12..]);
            Current = new StreamFrame(BinaryPrimitives.ReadInt64BigEndian(at), (int)BinaryPrimitives.ReadUInt32BigEndian(at[8..]),
                at.Slice(StreamRecordHeader.FrameHeaderLength, captured));
            _next += StreamRecordHeader.FrameHeaderLength + captured;
            return true;
        }
    }
}

/// <summary>One frame of a record: capture time (ns since the Unix epoch), original length, captured bytes.</summary>
public readonly ref struct StreamFrame(long timestampNs, int originalLength, ReadOnlySpan<byte> data)
{
    public long TimestampNs { get; } = timestampNs;

    public int OriginalLength { get; } = originalLength;

    public ReadOnlySpan<byte> Data { get; } = data;
}
