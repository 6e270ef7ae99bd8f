using System.Buffers.Binary;
using Fabric.Protocols.NodeStream;
using Fabric.Protocols.Pcap;
using Fabric.Tests;
using Xunit;

namespace Fabric.Protocols.Tests.NodeStream;

/// <summary>The stream record format (docs/stream-protocol.md): round trips, truncation, hostile headers and payloads.</summary>
public sealed class StreamRecordTests
{
    /// <summary>Frames of a real capture: tests/corpus/zeek/erspanII.pcap (every record, as captured).</summary>
    private static List<(byte[] Data, int Original, long Time)> CorpusFrames()
    {
        var frames = new List<(byte[], int, long)>();
        using var reader = CaptureFileReader.Open(TestPaths.Corpus("zeek/erspanII.pcap"));
        while (reader.ReadNext(out var record) == CaptureReadStatus.Packet)
        {
            frames.Add((record.Data.ToArray(), record.OriginalLength, record.TimestampNs));
        }

        return frames;
    }

    private static byte[] Encode(StreamCompression compression, IReadOnlyList<(byte[] Data, int Original, long Time)> frames, ulong sequence = 1, int level = 1)
    {
        using var encoder = new StreamRecordEncoder(compression, level);
        foreach (var (data, original, time) in frames)
        {
            Assert.True(encoder.TryAdd(data, original, time));
        }

        var output = Array.Empty<byte>();
        int length = encoder.Finish(0xfab, sequence, 10, ref output);
        return output[..length];
    }

    [Theory]
    [InlineData(StreamCompression.None)]
    [InlineData(StreamCompression.Lz4)]
    [InlineData(StreamCompression.Zstd)]
    public void A_record_round_trips_every_frame_with_its_timestamp_and_original_length(StreamCompression compression)
    {
        var frames = CorpusFrames();
        Assert.NotEmpty(frames);
        var record = Encode(compression, frames, sequence: 7);

        Assert.Equal(StreamDecodeStatus.Ok, StreamRecordHeader.TryRead(record, out var header));
        Assert.Equal(frames.Count, header.FrameCount);
        Assert.Equal(7UL, header.Sequence);
        Assert.Equal(10UL, header.FramesBefore);
        Assert.Equal(0xfabUL, header.StreamId);
        Assert.Equal(record.Length - StreamRecordHeader.Length, header.PayloadLength);
        using var decoder = new StreamRecordDecoder(16 << 20);
        Assert.Equal(StreamDecodeStatus.Ok, decoder.Decode(header, record.AsSpan(StreamRecordHeader.Length), out var decoded));
        int i = 0;
        foreach (var frame in decoded)
        {
            Assert.Equal(frames[i].Data, frame.Data.ToArray());
            Assert.Equal(frames[i].Original, frame.OriginalLength);
            Assert.Equal(frames[i].Time, frame.TimestampNs);
            i++;
        }

        Assert.Equal(frames.Count, i);
    }

    [Fact]
    public void Compressible_frames_are_smaller_on_the_wire_with_lz4_and_zstd()
    {
        var frames = Enumerable.Range(0, 500).Select(i => (new byte[600], 600, (long)i)).ToList();
        int none = Encode(StreamCompression.None, frames).Length;
        Assert.True(Encode(StreamCompression.Lz4, frames).Length < none / 10);
        Assert.True(Encode(StreamCompression.Zstd, frames).Length < none / 10);
    }

    [Fact]
    public void Every_prefix_of_a_header_is_truncated()
    {
        var record = Encode(StreamCompression.Lz4, CorpusFrames());
        for (int length = 0; length < StreamRecordHeader.Length; length++)
        {
            Assert.Equal(StreamDecodeStatus.Truncated, StreamRecordHeader.TryRead(record.AsSpan(0, length), out var header));
            Assert.Equal(default, header);
        }
    }

    [Theory]
    [InlineData(0, 0x00, StreamDecodeStatus.BadMagic)]
    [InlineData(2, 0x02, StreamDecodeStatus.BadVersion)]
    [InlineData(2, 0x00, StreamDecodeStatus.BadVersion)]
    [InlineData(3, 0x03, StreamDecodeStatus.BadCompression)]
    public void A_bad_magic_version_or_compression_is_refused_by_name(int offset, byte value, StreamDecodeStatus expected)
    {
        var record = Encode(StreamCompression.Lz4, CorpusFrames());
        record[offset] = value;
        Assert.Equal(expected, StreamRecordHeader.TryRead(record, out _));
    }

    [Theory]
    [InlineData(4, 0x8000_0000u)]      // frame count 2^31
    [InlineData(4, 0u)]                // no frames
    [InlineData(32, 0x8000_0000u)]     // raw length 2^31
    [InlineData(36, 0x8000_0000u)]     // payload length 2^31
    [InlineData(36, 0xFFFF_FFFFu)]
    public void Huge_or_zero_lengths_are_too_large_before_anything_is_allocated(int offset, uint value)
    {
        var record = Encode(StreamCompression.Lz4, CorpusFrames());
        BinaryPrimitives.WriteUInt32BigEndian(record.AsSpan(offset), value);
        Assert.Equal(StreamDecodeStatus.TooLarge, StreamRecordHeader.TryRead(record, out _));
    }

    [Fact]
    public void A_record_over_the_receivers_limit_is_too_large()
    {
        var frames = Enumerable.Range(0, 200).Select(i => (new byte[1000], 1000, (long)i)).ToList();
        var record = Encode(StreamCompression.Lz4, frames);
        Assert.Equal(StreamDecodeStatus.Ok, StreamRecordHeader.TryRead(record, out var header));
        using var decoder = new StreamRecordDecoder(100_000);
        Assert.Equal(StreamDecodeStatus.TooLarge, decoder.Admit(header));
    }

    [Theory]
    [InlineData(StreamCompression.Lz4)]
    [InlineData(StreamCompression.Zstd)]
    public void Garbage_after_a_good_header_is_a_bad_payload(StreamCompression compression)
    {
        var record = Encode(compression, CorpusFrames());
        Assert.Equal(StreamDecodeStatus.Ok, StreamRecordHeader.TryRead(record, out var header));
        var random = new Random(14);
        random.NextBytes(record.AsSpan(StreamRecordHeader.Length));
        using var decoder = new StreamRecordDecoder(16 << 20);
        var status = decoder.Decode(header, record.AsSpan(StreamRecordHeader.Length), out _);
        Assert.True(status is StreamDecodeStatus.BadPayload or StreamDecodeStatus.BadFrames, status.ToString());
    }

    [Fact]
    public void Uncompressed_garbage_after_a_good_header_is_bad_frames()
    {
        var record = Encode(StreamCompression.None, CorpusFrames());
        Assert.Equal(StreamDecodeStatus.Ok, StreamRecordHeader.TryRead(record, out var header));
        record.AsSpan(StreamRecordHeader.Length).Fill(0xFF);
        using var decoder = new StreamRecordDecoder(16 << 20);
        Assert.Equal(StreamDecodeStatus.BadFrames, decoder.Decode(header, record.AsSpan(StreamRecordHeader.Length), out _));
    }

    /// <summary>A zip bomb: 64 MiB of zeros (zstd; LZ4: 16 MiB) compressed into a few KiB, announced as a 1 MiB record. The decoder
    /// stops at the announced length (it never writes past its 1 MiB buffer) and refuses the record.</summary>
    [Theory]
    [InlineData(StreamCompression.Zstd)]
    [InlineData(StreamCompression.Lz4)]
    public void A_zip_bomb_stops_at_the_announced_length_and_is_a_bad_payload(StreamCompression compression)
    {
        byte[] bomb = ZipBomb(compression, 64 << 20);
        Assert.True(bomb.Length < 2 << 20, $"bomb of {bomb.Length} bytes");
        var record = new byte[StreamRecordHeader.Length + bomb.Length];
        new StreamRecordHeader(compression, 1, 1, 1, 0, 1 << 20, bomb.Length).Write(record);
        bomb.CopyTo(record, StreamRecordHeader.Length);
        Assert.Equal(StreamDecodeStatus.Ok, StreamRecordHeader.TryRead(record, out var header));
        using var decoder = new StreamRecordDecoder(16 << 20);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal(StreamDecodeStatus.BadPayload, decoder.Decode(header, record.AsSpan(StreamRecordHeader.Length), out _));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 4 << 20, "the decoder allocated more than the announced length");
    }

    /// <summary>Zeros compressed: zstd in one frame of <paramref name="bytes"/>; LZ4 of its largest block (the LZ4
    /// block format has no declared length, so a bomb is any block longer than announced).</summary>
    internal static byte[] ZipBomb(StreamCompression compression, int bytes)
    {
        var zeros = new byte[compression == StreamCompression.Lz4 ? 16 << 20 : bytes];
        if (compression == StreamCompression.Zstd)
        {
            using var zstd = new ZstdSharp.Compressor(3);
            return zstd.Wrap(zeros).ToArray();
        }

        var output = new byte[K4os.Compression.LZ4.LZ4Codec.MaximumOutputSize(zeros.Length)];
        int length = K4os.Compression.LZ4.LZ4Codec.Encode(zeros, output, K4os.Compression.LZ4.LZ4Level.L00_FAST);
        return output[..length];
    }

    [Fact]
    public void A_frame_longer_than_its_record_is_bad_frames()
    {
        var record = Encode(StreamCompression.None, [(new byte[100], 100, 1L)]);
        BinaryPrimitives.WriteUInt32BigEndian(record.AsSpan(StreamRecordHeader.Length + 12), 101);
        BinaryPrimitives.WriteUInt32BigEndian(record.AsSpan(StreamRecordHeader.Length + 8), 101);
        Assert.Equal(StreamDecodeStatus.Ok, StreamRecordHeader.TryRead(record, out var header));
        using var decoder = new StreamRecordDecoder(16 << 20);
        Assert.Equal(StreamDecodeStatus.BadFrames, decoder.Decode(header, record.AsSpan(StreamRecordHeader.Length), out _));
    }

    /// <summary>Found by the stream fuzz target (tests/Fabric.Fuzz/regressions/stream): an original length of 2^31 or more.</summary>
    [Fact]
    public void An_original_length_of_2_31_is_bad_frames()
    {
        var record = Encode(StreamCompression.None, [(new byte[100], 100, 1L)]);
        BinaryPrimitives.WriteUInt32BigEndian(record.AsSpan(StreamRecordHeader.Length + 8), 0x8000_0000u);
        Assert.Equal(StreamDecodeStatus.Ok, StreamRecordHeader.TryRead(record, out var header));
        using var decoder = new StreamRecordDecoder(16 << 20);
        Assert.Equal(StreamDecodeStatus.BadFrames, decoder.Decode(header, record.AsSpan(StreamRecordHeader.Length), out _));
    }

    [Fact]
    public void Incompressible_frames_go_uncompressed()
    {
        var random = new Random(3);
        var frames = Enumerable.Range(0, 50).Select(i =>
        {
            var data = new byte[1400];
            random.NextBytes(data);
            return (data, 1400, (long)i);
        }).ToList();
        var record = Encode(StreamCompression.Zstd, frames);
        Assert.Equal(StreamDecodeStatus.Ok, StreamRecordHeader.TryRead(record, out var header));
        Assert.Equal(StreamCompression.None, header.Compression);
    }
}
