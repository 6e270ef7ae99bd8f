using Fabric.Protocols.Pcap;

namespace Fabric.Protocols.Tests.Pcap;

public sealed class PcapWriterTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("fq-writer-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [InlineData("arkime/arkime_synthetic.pcap", false)]
    [InlineData("zeek/vntag.pcap", true)]
    [InlineData("zeek/tunnels_geneve-truncated.pcapng", false)]
    public void Round_trip_keeps_every_record_and_independent_readers_agree(string name, bool nanoseconds)
    {
        var source = CaptureCorpus.PathOf(name);
        var output = Path.Combine(_directory, "out.pcap");
        List<CaptureFileReaderTests.Rec> original;
        using (var reader = CaptureFileReader.Open(source))
        using (var writer = PcapWriter.Create(output, reader.LinkType, nanoseconds: nanoseconds, bufferSize: 8192))
        {
            (original, _) = CaptureFileReaderTests.ReadAll(reader);
            foreach (var record in original)
            {
                writer.Write(record.Data, record.TimestampNs, record.OriginalLength);
            }
        }

        using (var back = CaptureFileReader.Open(output))
        {
            var (copied, status) = CaptureFileReaderTests.ReadAll(back);
            Assert.Equal(CaptureReadStatus.EndOfFile, status);
            Assert.Equal(nanoseconds, back.NanosecondTimestamps);
            Assert.Equal(original, copied);
        }

        // tshark sees the same times and lengths in the copy as in the source...
        Assert.Equal(Tshark(source), Tshark(output));
        // ...and tcpdump reads the copy to the end without complaint.
        Assert.Equal(original.Count, ExternalTool.TcpdumpCount(output));
    }

    [Fact]
    public void Frames_longer_than_the_snap_length_are_cut_and_keep_their_original_length()
    {
        var stream = new MemoryStream();
        using (var writer = new PcapWriter(stream, LinkTypes.Ethernet, snapLength: 100, leaveOpen: true))
        {
            writer.Write(new byte[1500], 1_000_000_000L, 1500);
            writer.Write(new byte[60], 2_000_000_000L, 10); // an original length below the captured one is raised
        }

        stream.Position = 0;
        using var reader = CaptureFileReader.Open(stream, false, "memory");
        var (records, _) = CaptureFileReaderTests.ReadAll(reader);

        Assert.Equal(100u, reader.SnapLength);
        Assert.Equal([(100, 1500), (60, 60)], records.Select(r => (r.Data.Length, r.OriginalLength)));
    }

    [Fact]
    public void Flush_leaves_whole_records_on_disk_and_Length_counts_the_file()
    {
        var output = Path.Combine(_directory, "flushed.pcap");
        using var writer = PcapWriter.Create(output, LinkTypes.Ethernet, bufferSize: 4096);
        for (var i = 0; i < 100; i++)
        {
            writer.Write(new byte[100 + i], i * 1_000L, 100 + i);
        }

        writer.Flush();

        Assert.Equal(writer.Length, new FileInfo(output).Length);
        using var reader = CaptureFileReader.Open(output);
        var (records, status) = CaptureFileReaderTests.ReadAll(reader);
        Assert.Equal(CaptureReadStatus.EndOfFile, status);
        Assert.Equal(100, records.Count);
        Assert.Equal(100L, writer.RecordCount);
    }

    [Fact]
    public void A_file_still_open_for_writing_can_be_read_up_to_what_was_flushed()
    {
        var output = Path.Combine(_directory, "live.pcap");
        using var writer = PcapWriter.Create(output, LinkTypes.Ethernet, bufferSize: 4096);
        for (var i = 0; i < 10; i++)
        {
            writer.Write(new byte[60], i, 60);
        }

        writer.Flush();
        writer.Write(new byte[60], 99, 60); // still buffered

        using var reader = CaptureFileReader.Open(output);
        var (records, status) = CaptureFileReaderTests.ReadAll(reader);

        Assert.Equal(CaptureReadStatus.EndOfFile, status);
        Assert.Equal(10, records.Count);
    }

    [Fact]
    public void A_record_larger_than_the_buffer_is_written_through_in_order()
    {
        var stream = new MemoryStream();
        byte[] big = [.. Enumerable.Range(0, 9000).Select(i => (byte)i)];
        using (var writer = new PcapWriter(stream, LinkTypes.Ethernet, leaveOpen: true, bufferSize: 4096))
        {
            writer.Write([1, 2, 3], 1, 3);
            writer.Write(big, 2_000, 9000);
            writer.Write([4, 5, 6], 3_000, 3);
        }

        stream.Position = 0;
        using var reader = CaptureFileReader.Open(stream, false, "memory");
        var (records, _) = CaptureFileReaderTests.ReadAll(reader);

        Assert.Equal([3, 9000, 3], records.Select(r => r.Data.Length));
        Assert.Equal(big, records[1].Data);
        Assert.Equal([0L, 2_000L, 3_000L], records.Select(r => r.TimestampNs));
    }

    [Fact]
    public void Writing_after_dispose_is_refused()
    {
        var writer = new PcapWriter(new MemoryStream(), LinkTypes.Ethernet);
        writer.Dispose();

        Assert.Throws<ObjectDisposedException>(() => writer.Write([1], 0, 1));
    }

    [Fact]
    public void A_write_that_fails_half_way_leaves_the_stream_on_a_record_boundary_and_keeps_the_buffer_for_a_retry()
    {
        // Room for the header and a little more than one 4 KiB buffer: the second buffer write stops half-way
        // with ENOSPC, as a write(2) on a full file system does.
        var stream = new FullDiskStream(room: 6000);
        var writer = new PcapWriter(stream, LinkTypes.Ethernet, leaveOpen: true, bufferSize: 4096);
        var accepted = 0;
        var failure = Assert.Throws<IOException>(() =>
        {
            for (var i = 0; i < 100; i++)
            {
                writer.Write(new byte[300], i * 1_000L, 300);
                accepted++;
            }
        });

        Assert.Equal(28, failure.HResult);
        Assert.True(stream.Length < 6000, $"{stream.Length} bytes kept");
        Assert.Equal(0, (stream.Length - PcapWriter.FileHeaderLength) % (PcapWriter.RecordHeaderLength + 300));
        Assert.Equal(stream.Length, stream.Position);
        long onDisk = (stream.Length - PcapWriter.FileHeaderLength) / (PcapWriter.RecordHeaderLength + 300);
        Assert.Equal(accepted, onDisk + writer.BufferedRecords);
        Assert.Equal(writer.BufferedRecords * 300L, writer.BufferedFrameBytes);
        Assert.Equal(CaptureReadStatus.EndOfFile, ReadAll(stream).Status);

        // Still full: the flush fails the same way and nothing changes.
        Assert.Throws<IOException>(writer.Flush);
        Assert.Equal(PcapWriter.FileHeaderLength + (onDisk * 316), stream.Length);

        // Space returns: the kept records are written, in order, and the file goes on.
        stream.Room = long.MaxValue;
        writer.Flush();
        writer.Write(new byte[300], 999_000L, 300);
        writer.Dispose();
        var (records, status) = ReadAll(stream);
        Assert.Equal(CaptureReadStatus.EndOfFile, status);
        Assert.Equal(accepted + 1, records.Count);
        Assert.Equal([.. Enumerable.Range(0, accepted).Select(i => i * 1_000L), 999_000L], records.Select(r => r.TimestampNs));
    }

    [Fact]
    public void Write_behind_puts_every_record_on_the_stream_in_order_by_flush_and_by_dispose()
    {
        // 4 KiB buffers and a stream that takes its time: several buffers go through the worker while records fill
        // the other one. Flush waits for the write in flight and writes the rest; Dispose does the same, then closes.
        var stream = new SlowStream();
        var writer = new PcapWriter(stream, LinkTypes.Ethernet, leaveOpen: true, bufferSize: 4096, writeBehind: true);
        for (var i = 0; i < 100; i++)
        {
            writer.Write(FrameOf(i, 100 + i), i * 1_000L, 100 + i);
        }

        writer.Flush();
        Assert.Equal(0, writer.BufferedRecords);
        Assert.Equal(writer.Length, stream.Length);
        Assert.Equal(100, ReadAll(stream).Records.Count);

        for (var i = 100; i < 250; i++)
        {
            writer.Write(FrameOf(i, 100 + i), i * 1_000L, 100 + i);
        }

        writer.Dispose();
        Assert.False(stream.WroteAfterClose);
        var (records, status) = ReadAll(stream);
        Assert.Equal(CaptureReadStatus.EndOfFile, status);
        Assert.Equal(Enumerable.Range(0, 250).Select(i => i * 1_000L), records.Select(r => r.TimestampNs));
        Assert.All(records, (r, i) => Assert.Equal(FrameOf(i, 100 + i), r.Data));
        Assert.True(stream.Writes > 10, $"{stream.Writes} writes");
    }

    [Fact]
    public void Dispose_with_write_behind_waits_for_the_write_in_flight_before_closing_the_stream()
    {
        var stream = new SlowStream();
        var writer = new PcapWriter(stream, LinkTypes.Ethernet, leaveOpen: false, bufferSize: 4096, writeBehind: true);
        for (var i = 0; i < 40; i++)
        {
            writer.Write(FrameOf(i, 300), i, 300);
        }

        writer.Dispose();

        Assert.True(stream.Closed);
        Assert.False(stream.WroteAfterClose);
        Assert.Equal(PcapWriter.FileHeaderLength + (40 * 316), stream.BytesBeforeClose);
    }

    [Fact]
    public void A_failed_write_behind_surfaces_on_a_later_write_keeps_its_records_and_writes_them_on_a_retry()
    {
        // As the synchronous case above, but the failing write runs on the worker: the caller learns of it when it
        // next needs that buffer (a later Write), and nothing accepted is lost: the records of the failed buffer and
        // of the one being filled are counted as buffered and written, in order, once space returns.
        var stream = new FullDiskStream(room: 6000);
        var writer = new PcapWriter(stream, LinkTypes.Ethernet, leaveOpen: true, bufferSize: 4096, writeBehind: true);
        var accepted = 0;
        var failure = Assert.Throws<IOException>(() =>
        {
            for (var i = 0; i < 100; i++)
            {
                writer.Write(new byte[300], i * 1_000L, 300);
                accepted++;
            }
        });

        Assert.Equal(28, failure.HResult);
        Assert.True(accepted > 12, $"only {accepted} accepted: the failure should surface one buffer after the failing one");
        Assert.Equal(0, (stream.Length - PcapWriter.FileHeaderLength) % (PcapWriter.RecordHeaderLength + 300));
        Assert.Equal(stream.Length, stream.Position);
        long onDisk = (stream.Length - PcapWriter.FileHeaderLength) / (PcapWriter.RecordHeaderLength + 300);
        Assert.Equal(accepted, onDisk + writer.BufferedRecords);
        Assert.Equal(writer.BufferedRecords * 300L, writer.BufferedFrameBytes);
        Assert.Equal(CaptureReadStatus.EndOfFile, ReadAll(stream).Status);

        Assert.Throws<IOException>(writer.Flush);
        Assert.Equal(PcapWriter.FileHeaderLength + (onDisk * 316), stream.Length);

        stream.Room = long.MaxValue;
        writer.Flush();
        Assert.Equal(0, writer.BufferedRecords);
        writer.Write(new byte[300], 999_000L, 300);
        writer.Dispose();
        var (records, status) = ReadAll(stream);
        Assert.Equal(CaptureReadStatus.EndOfFile, status);
        Assert.Equal([.. Enumerable.Range(0, accepted).Select(i => i * 1_000L), 999_000L], records.Select(r => r.TimestampNs));
    }

    [Fact]
    public void A_write_behind_failure_at_dispose_is_thrown_and_the_stream_is_still_closed()
    {
        var stream = new FullDiskStream(room: 3000);
        var writer = new PcapWriter(stream, LinkTypes.Ethernet, leaveOpen: false, bufferSize: 4096, writeBehind: true);
        for (var i = 0; i < 20; i++)
        {
            writer.Write(new byte[300], i, 300); // 20 records: one buffer handed to the worker, which fails
        }

        var failure = Assert.Throws<IOException>(writer.Dispose);

        Assert.Equal(28, failure.HResult);
        Assert.True(stream.Closed);
        Assert.True(writer.BufferedRecords > 0);
        writer.Dispose(); // once disposed, disposing again does nothing
    }

    [Fact]
    public void Pcapng_with_write_behind_gives_the_same_bytes_as_without()
    {
        byte[] Write(bool writeBehind)
        {
            var stream = new MemoryStream();
            using (var writer = new PcapNgWriter(stream, leaveOpen: true, bufferSize: 4096, writeBehind: writeBehind))
            {
                writer.AddInterface(LinkTypes.Ethernet, "erspan-42", "session 42");
                for (var i = 0; i < 200; i++)
                {
                    writer.Write(FrameOf(i, 61 + i), 0, i * 1_000L, 61 + i, (byte)(i % 3));
                }
            }

            return stream.ToArray();
        }

        var behind = Write(true);
        Assert.Equal(Write(false), behind);
        Assert.True(behind.Length > 4 * 4096);
    }

    private static byte[] FrameOf(int seed, int length) => [.. Enumerable.Range(0, length).Select(i => (byte)(seed + i))];

    /// <summary>A stream whose writes take a millisecond each (a slow disk) and that notes any write after it was closed.</summary>
    private sealed class SlowStream : MemoryStream
    {
        private int _writing;

        public int Writes { get; private set; }

        public bool Closed { get; private set; }

        public bool WroteAfterClose { get; private set; }

        public long BytesBeforeClose { get; private set; }

        public override void Write(byte[] buffer, int offset, int count)
        {
            Interlocked.Increment(ref _writing);
            Thread.Sleep(1);
            WroteAfterClose |= Closed;
            base.Write(buffer, offset, count);
            Writes++;
            Interlocked.Decrement(ref _writing);
        }

        public override void Write(ReadOnlySpan<byte> buffer) => Write(buffer.ToArray(), 0, buffer.Length);

        protected override void Dispose(bool disposing)
        {
            WroteAfterClose |= Volatile.Read(ref _writing) != 0;
            BytesBeforeClose = Length;
            Closed = true;
        }
    }

    private static (List<CaptureFileReaderTests.Rec> Records, CaptureReadStatus Status) ReadAll(MemoryStream stream)
    {
        var copy = new MemoryStream(stream.ToArray());
        using var reader = CaptureFileReader.Open(copy, false, "memory");
        var (records, status) = CaptureFileReaderTests.ReadAll(reader);
        return ([.. records], status);
    }

    /// <summary>A stream on a file system with <see cref="Room"/> bytes: a write beyond it stores what fits and
    /// then fails with ENOSPC (HResult 28, as .NET reports it on Linux).</summary>
    private sealed class FullDiskStream(long room) : MemoryStream
    {
        public long Room { get; set; } = room;

        public bool Closed { get; private set; }

        protected override void Dispose(bool disposing)
        {
            Closed = true;
            base.Dispose(disposing);
        }

        public override void Write(ReadOnlySpan<byte> buffer) => Write(buffer.ToArray(), 0, buffer.Length);

        public override void Write(byte[] buffer, int offset, int count)
        {
            long free = Math.Max(0, Room - Position);
            if (count <= free)
            {
                base.Write(buffer, offset, count);
                return;
            }

            base.Write(buffer, offset, (int)free);
            throw new IOException("No space left on device", 28);
        }
    }

    private static string[] Tshark(string path)
    {
        var result = ExternalTool.Run("tshark", "-r", path, "-T", "fields", "-e", "frame.time_epoch", "-e", "frame.cap_len", "-e", "frame.len");
        Assert.True(result.ExitCode == 0, result.Stderr);
        return result.Lines;
    }
}
