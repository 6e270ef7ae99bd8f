using System.Buffers.Binary;
using System.Globalization;
using Fabric.Protocols.Pcap;

namespace Fabric.Protocols.Tests.Pcap;

public sealed class CaptureFileReaderTests
{
    // 60-byte Ethernet frames whose bytes say which record they are.
    private static byte[] Frame(int seed, int length = 60) =>
        Enumerable.Range(0, length).Select(i => (byte)(seed * 7 + i)).ToArray();

    [Theory]
    [MemberData(nameof(CaptureCorpus.CaptureNames), MemberType = typeof(CaptureCorpus))]
    public void Every_corpus_capture_is_read_whole(string name)
    {
        var entry = CaptureCorpus.Entry(name);

        using var reader = CaptureFileReader.Open(entry.FullPath);
        var (records, status) = ReadAll(reader);

        Assert.Equal(CaptureReadStatus.EndOfFile, status);
        Assert.Null(reader.Problem);
        Assert.Equal(entry.Packets, records.Count);
        Assert.Equal(entry.Format.StartsWith("pcapng", StringComparison.Ordinal) ? CaptureFileFormat.PcapNg : CaptureFileFormat.Pcap, reader.Format);
        Assert.Equal(entry.Format.StartsWith("nanosecond", StringComparison.Ordinal), reader.NanosecondTimestamps);
        var expectedLinkType = entry.Format.EndsWith("Raw IP", StringComparison.Ordinal) ? LinkTypes.Raw : LinkTypes.Ethernet;
        Assert.All(records, r => Assert.Equal(expectedLinkType, r.LinkType));
    }

    // Timestamps, captured and original lengths against tshark's reading of the same file:
    // a pcapng file (58 of 156 bytes captured), a nanosecond pcap, a microsecond pcap, and the largest file.
    [Theory]
    [InlineData("zeek/tunnels_geneve-truncated.pcapng")]
    [InlineData("zeek/vntag.pcap")]
    [InlineData("tcpdump/vxlan.pcap")]
    [InlineData("arkime/arkime_synthetic.pcap")]
    public void Records_agree_with_tshark(string name)
    {
        var path = CaptureCorpus.PathOf(name);
        var tshark = TsharkFrames(path);

        using var reader = CaptureFileReader.Open(path);
        var (records, _) = ReadAll(reader);

        Assert.Equal(tshark, records.Select(Describe).ToArray());
    }

    [Fact]
    public void Big_endian_classic_file_reads_like_its_little_endian_original()
    {
        var original = File.ReadAllBytes(CaptureCorpus.PathOf("tcpdump/vxlan.pcap"));
        var swapped = SwapClassic(original);
        var path = TempFile(swapped);
        try
        {
            using var little = CaptureFileReader.Open(new MemoryStream(original), false, "little");
            using var big = CaptureFileReader.Open(path);
            var (expected, _) = ReadAll(little);
            var (actual, status) = ReadAll(big);

            Assert.True(big.ByteSwapped);
            Assert.Equal(CaptureReadStatus.EndOfFile, status);
            Assert.Equal(expected, actual);
            // tshark agrees that the swapped file is a valid capture with the same records.
            Assert.Equal(TsharkFrames(CaptureCorpus.PathOf("tcpdump/vxlan.pcap")), TsharkFrames(path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Pcapng_with_sections_interfaces_resolutions_and_unknown_blocks_is_read_in_order(bool bigEndian)
    {
        // Section 1: Ethernet in µs (default), raw IP in ns, Ethernet in 2^-20 s with a 10 s offset.
        // Section 2 (other byte order): one Ethernet interface, a simple packet block.
        var bytes = new CaptureBytes()
            .SectionHeader(bigEndian)
            .InterfaceDescription(1, 65535)
            .UnknownBlock(0x00000BAD, 13)
            .InterfaceDescription(101, 0, tsresol: 9)
            .InterfaceDescription(1, 0, tsresol: 0x80 | 20, tsoffset: 10)
            .EnhancedPacket(0, 1_500_000_000_123_456UL, Frame(1), 60)
            .EnhancedPacket(1, 1_500_000_000_123_456_789UL, Frame(2, 40), 1500)
            .InterfaceStatistics(1)
            .EnhancedPacket(2, (1_500_000_000UL << 20) + (1UL << 19), Frame(3, 61), 61)
            .SectionHeader(!bigEndian)
            .InterfaceDescription(1, 64)
            .SimplePacket(Frame(4, 64), 100)
            .ToArray();
        var path = TempFile(bytes);
        try
        {
            using var reader = CaptureFileReader.Open(path);
            var (records, status) = ReadAll(reader);

            Assert.Equal(CaptureReadStatus.EndOfFile, status);
            Assert.Equal(CaptureFileFormat.PcapNg, reader.Format);
            Assert.Equal(
                [
                    new Rec(Frame(1), 1_500_000_000_123_456_000L, 60, LinkTypes.Ethernet, 0),
                    new Rec(Frame(2, 40), 1_500_000_000_123_456_789L, 1500, LinkTypes.Raw, 1),
                    new Rec(Frame(3, 61), 1_500_000_010_500_000_000L, 61, LinkTypes.Ethernet, 2),
                    new Rec(Frame(4, 64), 0, 100, LinkTypes.Ethernet, 0),
                ],
                records);
            Assert.Equal(4, reader.Interfaces.Count);
            Assert.Equal(["1e-6", "1e-9", "2^-20", "1e-6"], reader.Interfaces.Select(i => i.TimestampResolution));

            // tshark reads the same records (so the bytes built here are valid pcapng). tshark 4.0 also
            // lists the unknown block (0xBAD) as a timeless 12-byte record, and prints no time for an SPB.
            var tshark = ExternalTool.Run("tshark", "-r", path, "-T", "fields", "-e", "frame.cap_len", "-e", "frame.len", "-e", "frame.time_epoch");
            Assert.True(tshark.ExitCode == 0, tshark.Stderr);
            Assert.Equal(
                ["12\t12\t", "60\t60\t1500000000.123456000", "40\t1500\t1500000000.123456789", "61\t61\t1500000010.500000000", "64\t100\t"],
                tshark.Lines);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(0xA1B2C3D4u, false, 1_000L)]
    [InlineData(0xA1B23C4Du, false, 1L)]
    [InlineData(0xA1B2C3D4u, true, 1_000L)]
    [InlineData(0xA1B23C4Du, true, 1L)]
    [InlineData(0xA1B2CD34u, false, 1_000L)]
    public void Classic_magic_variants_give_nanosecond_timestamps(uint magic, bool bigEndian, long fractionUnit)
    {
        var modified = magic == 0xA1B2CD34u;
        var bytes = new CaptureBytes()
            .ClassicHeader(magic, LinkTypes.Ethernet, 65535, bigEndian)
            .ClassicRecord(1_600_000_000, 123, Frame(1), 60, modified)
            .ClassicRecord(1_600_000_001, 999, Frame(2, 64), 1514, modified)
            .ToArray();

        using var reader = CaptureFileReader.Open(new MemoryStream(bytes), false, "variant");
        var (records, status) = ReadAll(reader);

        Assert.Equal(CaptureReadStatus.EndOfFile, status);
        Assert.Equal(bigEndian, reader.ByteSwapped);
        Assert.Equal(
            [
                new Rec(Frame(1), 1_600_000_000_000_000_000L + 123 * fractionUnit, 60, LinkTypes.Ethernet, 0),
                new Rec(Frame(2, 64), 1_600_000_001_000_000_000L + 999 * fractionUnit, 1514, LinkTypes.Ethernet, 0),
            ],
            records);
    }

    [Fact]
    public void Not_a_capture_file_is_one_clear_error()
    {
        var text = "hello, this is not a capture file at all"u8.ToArray();

        var error = Assert.Throws<CaptureFileException>(() => CaptureFileReader.Open(new MemoryStream(text), false, "notes.txt"));

        Assert.Equal("notes.txt: not a capture file (magic 0x6c6c6568: neither pcap nor pcapng)", error.Message);
    }

    [Fact]
    public void Gzip_file_is_named_as_such()
    {
        byte[] gzip = [0x1F, 0x8B, 0x08, 0x00, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];

        var error = Assert.Throws<CaptureFileException>(() => CaptureFileReader.Open(new MemoryStream(gzip), false, "x.pcap.gz"));

        Assert.Contains("gzip-compressed", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, "x: not a capture file (only 0 bytes; a pcap or pcapng file starts with a 4-byte magic number)")]
    [InlineData(10, "x: truncated pcap file header (10 of 24 bytes)")]
    public void Short_file_is_one_clear_error(int length, string message)
    {
        var bytes = File.ReadAllBytes(CaptureCorpus.PathOf("tcpdump/vxlan.pcap"))[..length];

        var error = Assert.Throws<CaptureFileException>(() => CaptureFileReader.Open(new MemoryStream(bytes), false, "x"));

        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void Unknown_pcap_version_is_one_clear_error()
    {
        var bytes = File.ReadAllBytes(CaptureCorpus.PathOf("tcpdump/vxlan.pcap"));
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(4), 3);

        var error = Assert.Throws<CaptureFileException>(() => CaptureFileReader.Open(new MemoryStream(bytes), false, "x"));

        Assert.Equal("x: unsupported pcap version 3.4 (only 2.x is defined)", error.Message);
    }

    [Fact]
    public void Absurd_record_length_stops_the_file_and_keeps_what_came_before()
    {
        var bytes = File.ReadAllBytes(CaptureCorpus.PathOf("tcpdump/vxlan.pcap"));
        var first = 24 + 16 + BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(24 + 8));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(first + 8), 0xFFFF_FFF0);

        using var reader = CaptureFileReader.Open(new MemoryStream(bytes), false, "x");
        var (records, status) = ReadAll(reader);

        Assert.Equal(CaptureReadStatus.RecordTooLarge, status);
        Assert.Single(records);
        Assert.Equal(
            string.Create(CultureInfo.InvariantCulture, $"x: a record length is absurd at byte {first} after 1 good records: captured length 4294967280 exceeds the cap of 262144"),
            reader.Problem);
        // The status stays: nothing more is read after damage.
        Assert.Equal(CaptureReadStatus.RecordTooLarge, reader.ReadNext(out _));
    }

    [Fact]
    public void Pcapng_packet_block_for_an_undescribed_interface_is_malformed()
    {
        var bytes = new CaptureBytes()
            .SectionHeader(false)
            .InterfaceDescription(1, 0)
            .EnhancedPacket(0, 1, Frame(1), 60)
            .EnhancedPacket(3, 2, Frame(2), 60)
            .ToArray();

        using var reader = CaptureFileReader.Open(new MemoryStream(bytes), false, "x");
        var (records, status) = ReadAll(reader);

        Assert.Equal(CaptureReadStatus.MalformedBlock, status);
        Assert.Single(records);
        Assert.EndsWith("packet block refers to interface 3, the section describes 1", reader.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Records_larger_than_the_buffer_are_read_across_refills()
    {
        // A 4 KiB buffer is grown to hold the cap; records straddle every refill boundary.
        var writer = new CaptureBytes().ClassicHeader(0xA1B2C3D4, LinkTypes.Ethernet, 65535, false);
        var expected = new List<Rec>();
        for (var i = 0; i < 300; i++)
        {
            var frame = Frame(i, 60 + (i * 37 % 9000));
            writer.ClassicRecord((uint)i, 0, frame, (uint)frame.Length);
            expected.Add(new Rec(frame, i * 1_000_000_000L, frame.Length, LinkTypes.Ethernet, 0));
        }

        using var reader = CaptureFileReader.Open(new TrickleStream(writer.ToArray()), false, "x", bufferSize: 4096, maxRecordLength: 16384);
        var (records, status) = ReadAll(reader);

        Assert.Equal(CaptureReadStatus.EndOfFile, status);
        Assert.Equal(expected, records);
    }

    [Fact]
    public void Records_split_at_the_buffer_end_are_read_whole_at_every_split_position()
    {
        // 76-byte records (16-byte header, 60-byte frame) behind a filler record of 16 + shift bytes: as shift goes
        // from 0 to 75, the record that crosses the end of the reader's first buffer fill is cut there at every one
        // of its 76 offsets (header split, data split, and on the boundary); later refills cross at other offsets.
        for (var shift = 0; shift < 76; shift++)
        {
            var writer = new CaptureBytes().ClassicHeader(0xA1B2C3D4, LinkTypes.Ethernet, 65535, false);
            var filler = Frame(999, shift);
            writer.ClassicRecord(0, 0, filler, (uint)filler.Length);
            var expected = new List<Rec> { new(filler, 0, filler.Length, LinkTypes.Ethernet, 0) };
            for (var i = 1; i <= 2000; i++)
            {
                var frame = Frame(i);
                writer.ClassicRecord((uint)i, (uint)i, frame, 1500);
                expected.Add(new Rec(frame, (i * 1_000_000_000L) + (i * 1_000L), 1500, LinkTypes.Ethernet, 0));
            }

            // A 100-byte cap keeps the buffer at its minimum (the cap plus the pcapng allowance), far below the file.
            using var reader = CaptureFileReader.Open(new MemoryStream(writer.ToArray()), false, "x", bufferSize: 4096, maxRecordLength: 100);
            var (records, status) = ReadAll(reader);

            Assert.Equal(CaptureReadStatus.EndOfFile, status);
            Assert.Equal(expected, records);
        }
    }

    [Fact]
    public void A_truncated_last_record_is_reported_and_every_record_before_it_is_intact()
    {
        // 3000 records across several buffer fills, then a last record cut at every offset inside it.
        var writer = new CaptureBytes().ClassicHeader(0xA1B2C3D4, LinkTypes.Ethernet, 65535, false);
        var expected = new List<Rec>();
        for (var i = 0; i < 3000; i++)
        {
            var frame = Frame(i, 60 + (i % 40));
            writer.ClassicRecord((uint)i, 0, frame, (uint)frame.Length);
            expected.Add(new Rec(frame, i * 1_000_000_000L, frame.Length, LinkTypes.Ethernet, 0));
        }

        var good = writer.ToArray().Length;
        var last = Frame(3000, 200);
        var whole = writer.ClassicRecord(3000, 0, last, (uint)last.Length).ToArray();
        for (var cut = good + 1; cut < whole.Length; cut++)
        {
            using var reader = CaptureFileReader.Open(new MemoryStream(whole[..cut]), false, "torn.pcap", bufferSize: 4096, maxRecordLength: 300);
            var (records, status) = ReadAll(reader);

            Assert.Equal(CaptureReadStatus.TruncatedRecord, status);
            Assert.Equal(expected, records);
            Assert.StartsWith($"torn.pcap: the last record is cut short at byte {good} after 3000 good records", reader.Problem, StringComparison.Ordinal);
            Assert.Equal(CaptureReadStatus.TruncatedRecord, reader.ReadNext(out _));
        }
    }

    // Every prefix of a classic and of a pcapng file: either the one clear exception at open, or the
    // records wholly inside the prefix followed by EndOfFile (cut on a boundary) or TruncatedRecord.
    [Theory]
    [InlineData("tcpdump/erspan-type-ii-1.pcap")]
    [InlineData("zeek/tunnels_geneve-truncated.pcapng")]
    [InlineData("zeek/vntag.pcap")]
    public void Every_prefix_of_a_file_is_read_cleanly(string name)
    {
        var whole = File.ReadAllBytes(CaptureCorpus.PathOf(name));
        using var full = CaptureFileReader.Open(new MemoryStream(whole), false, name);
        var (all, _) = ReadAll(full);
        var (headerEnd, boundaries, packetEnds) = Layout(whole);

        for (var length = 0; length < whole.Length; length++)
        {
            var prefix = whole[..length];
            CaptureFileReader reader;
            try
            {
                reader = CaptureFileReader.Open(new MemoryStream(prefix), false, name, bufferSize: 4096);
            }
            catch (CaptureFileException)
            {
                Assert.True(length < headerEnd, $"prefix {length} rejected although the header ends at {headerEnd}");
                continue;
            }

            using (reader)
            {
                var (records, status) = ReadAll(reader);
                Assert.Equal(all.Take(packetEnds.Count(end => end <= length)), records);
                Assert.Equal(boundaries.Contains(length) ? CaptureReadStatus.EndOfFile : CaptureReadStatus.TruncatedRecord, status);
            }
        }
    }

    /// <summary>
    /// From the format, independently of the reader: where the file header ends, every offset where a
    /// record or block ends (a clean place to cut), and where each packet record ends.
    /// </summary>
    private static (int HeaderEnd, HashSet<int> Boundaries, List<int> PacketEnds) Layout(byte[] file)
    {
        var boundaries = new HashSet<int>();
        var packetEnds = new List<int>();
        if (BinaryPrimitives.ReadUInt32LittleEndian(file) == 0x0A0D0D0A)
        {
            // Little-endian pcapng in the corpus: the section header is the file header.
            var headerEnd = BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(4));
            var offset = 0;
            while (offset < file.Length)
            {
                var type = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(offset));
                offset += BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(offset + 4));
                boundaries.Add(offset);
                if (type is 6 or 3 or 2)
                {
                    packetEnds.Add(offset);
                }
            }

            return (headerEnd, boundaries, packetEnds);
        }

        var position = 24;
        boundaries.Add(position);
        while (position < file.Length)
        {
            position += 16 + BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(position + 8));
            boundaries.Add(position);
            packetEnds.Add(position);
        }

        return (24, boundaries, packetEnds);
    }

    private static string[] TsharkFrames(string path)
    {
        var result = ExternalTool.Run("tshark", "-r", path, "-T", "fields", "-e", "frame.time_epoch", "-e", "frame.cap_len", "-e", "frame.len");
        Assert.True(result.ExitCode == 0, result.Stderr);
        return result.Lines;
    }

    private static string Describe(Rec record) => string.Create(
        CultureInfo.InvariantCulture,
        $"{record.TimestampNs / 1_000_000_000}.{record.TimestampNs % 1_000_000_000:D9}\t{record.Data.Length}\t{record.OriginalLength}");

    internal static (List<Rec> Records, CaptureReadStatus Status) ReadAll(CaptureFileReader reader)
    {
        var records = new List<Rec>();
        CaptureReadStatus status;
        while ((status = reader.ReadNext(out var record)) == CaptureReadStatus.Packet)
        {
            records.Add(new Rec(record.Data.ToArray(), record.TimestampNs, record.OriginalLength, record.LinkType, record.InterfaceId));
        }

        return (records, status);
    }

    private static byte[] SwapClassic(byte[] file)
    {
        var swapped = (byte[])file.Clone();
        void Swap32(int at) => BinaryPrimitives.WriteUInt32BigEndian(swapped.AsSpan(at), BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(at)));
        void Swap16(int at) => BinaryPrimitives.WriteUInt16BigEndian(swapped.AsSpan(at), BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan(at)));
        Swap32(0);
        Swap16(4);
        Swap16(6);
        Swap32(8);
        Swap32(12);
        Swap32(16);
        Swap32(20);
        var position = 24;
        while (position < file.Length)
        {
            var captured = BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(position + 8));
            for (var field = 0; field < 16; field += 4)
            {
                Swap32(position + field);
            }

            position += 16 + captured;
        }

        return swapped;
    }

    private static string TempFile(byte[] bytes)
    {
        var path = Path.Combine(Path.GetTempPath(), $"fq-{Guid.NewGuid():N}.pcap");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    /// <summary>A managed copy of a record, comparable by value.</summary>
    internal sealed record Rec(byte[] Data, long TimestampNs, int OriginalLength, uint LinkType, int InterfaceId)
    {
        public bool Equals(Rec? other) =>
            other is not null && Data.AsSpan().SequenceEqual(other.Data) && TimestampNs == other.TimestampNs
            && OriginalLength == other.OriginalLength && LinkType == other.LinkType && InterfaceId == other.InterfaceId;

        public override int GetHashCode() => HashCode.Combine(Data.Length, TimestampNs, OriginalLength);
    }

    /// <summary>A stream that returns at most 1000 bytes per read, like a pipe.</summary>
    private sealed class TrickleStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override int Read(byte[] buffer, int offset, int count) => base.Read(buffer, offset, Math.Min(count, 1000));
    }
}
