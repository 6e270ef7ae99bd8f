using System.Buffers.Binary;

namespace Fabric.Protocols.NodeStream;

/// <summary>How the payload of a stream record is compressed.</summary>
public enum StreamCompression : byte
{
    /// <summary>The payload is the frames as they are.</summary>
    None = 0,

    /// <summary>LZ4 block format (K4os.Compression.LZ4).</summary>
    Lz4 = 1,

    /// <summary>One Zstandard frame (ZstdSharp).</summary>
    Zstd = 2,
}

/// <summary>Outcome of reading or decoding a stream record. Every outcome but <see cref="Ok"/> closes the connection
/// it came from and is counted under its name (<see cref="StreamDecodeStatusNames"/>).</summary>
public enum StreamDecodeStatus
{
    Ok,

    /// <summary>Fewer bytes than the part being read needs.</summary>
    Truncated,

    /// <summary>The first two bytes are not "FS".</summary>
    BadMagic,

    /// <summary>A version this node does not speak.</summary>
    BadVersion,

    /// <summary>A compression code that is not none, lz4 or zstd.</summary>
    BadCompression,

    /// <summary>Frame count, raw length or payload length over the protocol's limits (or inconsistent with each other).</summary>
    TooLarge,

    /// <summary>The payload does not decompress to exactly the announced raw length (corrupt data, or a zip bomb).</summary>
    BadPayload,

    /// <summary>The frame list inside the payload does not add up (a frame past the end, bytes left over, wrong count).</summary>
    BadFrames,
}

/// <summary>The names of <see cref="StreamDecodeStatus"/> values in counters and metrics.</summary>
public static class StreamDecodeStatusNames
{
    public static string Of(StreamDecodeStatus status) => status switch
    {
        StreamDecodeStatus.Ok => "ok",
        StreamDecodeStatus.Truncated => "truncated",
        StreamDecodeStatus.BadMagic => "bad-magic",
        StreamDecodeStatus.BadVersion => "bad-version",
        StreamDecodeStatus.BadCompression => "bad-compression",
        StreamDecodeStatus.TooLarge => "too-large",
        StreamDecodeStatus.BadPayload => "bad-payload",
        _ => "bad-frames",
    };
}

/// <summary>
/// The fixed header of one record of Fabric's node-to-node stream (docs/stream-protocol.md). One record carries one
/// batch of frames; all fields big-endian.
/// <code>
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |   magic 'F'   |   magic 'S'   |    version    |  compression  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                          frame count                          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                  stream id (64 bits, per sender run)          |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                  sequence (64 bits, 1, 2, 3, ...)             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |       frames before (64 bits: frames of records 1..seq-1)     |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                  raw length (payload uncompressed)            |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                  payload length (on the wire)                 |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// </code>
/// </summary>
public readonly record struct StreamRecordHeader(
    StreamCompression Compression, int FrameCount, ulong StreamId, ulong Sequence, ulong FramesBefore, int RawLength, int PayloadLength)
{
    public const byte Magic0 = (byte)'F';
    public const byte Magic1 = (byte)'S';

    /// <summary>The one version this node writes and reads.</summary>
    public const byte CurrentVersion = 1;

    public const int Length = 40;

    /// <summary>Per frame in the raw payload: timestamp (ns since the Unix epoch, 64 bits), original length (32),
    /// captured length (32), then the captured bytes.</summary>
    public const int FrameHeaderLength = 16;

    /// <summary>Most frames in one record (a pipeline's largest batch).</summary>
    public const int MaxFrames = 65536;

    /// <summary>Largest raw (uncompressed) payload: 64 MiB.</summary>
    public const int MaxRawLength = 64 << 20;

    /// <summary>Largest payload on the wire: what LZ4 or zstd may need for <see cref="MaxRawLength"/> incompressible bytes.</summary>
    public static readonly int MaxPayloadLength = MaxRawLength + (MaxRawLength / 128) + 1024;

    private const int VersionOffset = 2;
    private const int CompressionOffset = 3;
    private const int FrameCountOffset = 4;
    private const int StreamIdOffset = 8;
    private const int SequenceOffset = 16;
    private const int FramesBeforeOffset = 24;
    private const int RawLengthOffset = 32;
    private const int PayloadLengthOffset = 36;

    /// <summary>Reads and checks a header: magic, version, compression, and every length against the limits (so a
    /// reader allocates only what the limits allow, and only after this succeeded). <paramref name="header"/> is
    /// zeroed on failure.</summary>
    public static StreamDecodeStatus TryRead(ReadOnlySpan<byte> source, out StreamRecordHeader header)
    {
        header = default;
        if ((uint)source.Length < Length)
        {
            return StreamDecodeStatus.Truncated;
        }

        if (source[0] != Magic0 || source[1] != Magic1)
        {
            return StreamDecodeStatus.BadMagic;
        }

        if (source[VersionOffset] != CurrentVersion)
        {
            return StreamDecodeStatus.BadVersion;
        }

        byte compression = source[CompressionOffset];
        if (compression > (byte)StreamCompression.Zstd)
        {
            return StreamDecodeStatus.BadCompression;
        }

        uint frames = BinaryPrimitives.ReadUInt32BigEndian(source[FrameCountOffset..]);
        uint raw = BinaryPrimitives.ReadUInt32BigEndian(source[RawLengthOffset..]);
        uint payload = BinaryPrimitives.ReadUInt32BigEndian(source[PayloadLengthOffset..]);
        if (frames == 0 || frames > MaxFrames || raw > MaxRawLength || payload > (uint)MaxPayloadLength
            || raw < (ulong)frames * FrameHeaderLength
            || (compression == (byte)StreamCompression.None && payload != raw))
        {
            return StreamDecodeStatus.TooLarge;
        }

        ulong sequence = BinaryPrimitives.ReadUInt64BigEndian(source[SequenceOffset..]);
        if (sequence == 0)
        {
            return StreamDecodeStatus.BadFrames;
        }

        header = new StreamRecordHeader((StreamCompression)compression, (int)frames,
            BinaryPrimitives.ReadUInt64BigEndian(source[StreamIdOffset..]), sequence,
            BinaryPrimitives.ReadUInt64BigEndian(source[FramesBeforeOffset..]), (int)raw, (int)payload);
        return StreamDecodeStatus.Ok;
    }

    /// <summary>Writes the header (version <see cref="CurrentVersion"/>) into the first <see cref="Length"/> bytes.</summary>
    public void Write(Span<byte> destination)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, Length);
        destination[0] = Magic0;
        destination[1] = Magic1;
        destination[VersionOffset] = CurrentVersion;
        destination[CompressionOffset] = (byte)Compression;
        BinaryPrimitives.WriteUInt32BigEndian(destination[FrameCountOffset..], (uint)FrameCount);
        BinaryPrimitives.WriteUInt64BigEndian(destination[StreamIdOffset..], StreamId);
        BinaryPrimitives.WriteUInt64BigEndian(destination[SequenceOffset..], Sequence);
        BinaryPrimitives.WriteUInt64BigEndian(destination[FramesBeforeOffset..], FramesBefore);
        BinaryPrimitives.WriteUInt32BigEndian(destination[RawLengthOffset..], (uint)RawLength);
        BinaryPrimitives.WriteUInt32BigEndian(destination[PayloadLengthOffset..], (uint)PayloadLength);
    }
}
