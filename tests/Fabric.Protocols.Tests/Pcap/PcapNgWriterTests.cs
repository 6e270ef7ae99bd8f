using Fabric.Protocols.Pcap;
using Xunit;

namespace Fabric.Protocols.Tests.Pcap;

/// <summary>
/// The pcapng writer: read back by Fabric's own reader and by tshark (an independent decoder):
/// interfaces with their names, descriptions and resolution, packets on the right interface with
/// their time, lengths and epb_flags direction; a torn last block is detected by the reader.
/// </summary>
public sealed class PcapNgWriterTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("fq-pcapng-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static byte[] Frame(int length, byte fill)
    {
        var frame = new byte[length];
        Array.Fill(frame, fill);
        frame[12] = 0x08; // EtherType IPv4, so tshark's Ethernet dissector is satisfied
        frame[13] = 0x00;
        return frame;
    }

    private string WriteSample(bool nanoseconds)
    {
        var path = Path.Combine(_directory, nanoseconds ? "ns.pcapng" : "us.pcapng");
        using var writer = PcapNgWriter.Create(path, nanoseconds);
        var a = writer.AddInterface(LinkTypes.Ethernet, "erspan 198.18.1.10 session 7", "198.18.1.10 -> 198.18.1.20, erspan-iii");
        writer.Write(Frame(61, 1), a, 1_700_000_000_123_456_789L, 61, direction: 1);
        var b = writer.AddInterface(LinkTypes.Ethernet, "vxlan 10.0.0.5 vni 42", "10.0.0.5 -> 10.0.0.9, vxlan");
        writer.Write(Frame(64, 2), b, 1_700_000_001_000_000_000L, 1500);
        writer.Write(Frame(62, 3), a, 1_700_000_002_000_000_001L, 62, direction: 2);
        Assert.Equal(3, writer.RecordCount);
        Assert.Equal(2, writer.InterfaceCount);
        return path;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Fabrics_reader_reads_interfaces_packets_times_and_lengths(bool nanoseconds)
    {
        var path = WriteSample(nanoseconds);

        using var reader = CaptureFileReader.Open(path);
        var records = new List<(int Interface, long Time, int Captured, int Original, byte First)>();
        while (reader.ReadNext(out var record) == CaptureReadStatus.Packet)
        {
            records.Add((record.InterfaceId, record.TimestampNs, record.CapturedLength, record.OriginalLength, record.Data[0]));
        }

        Assert.Equal(CaptureFileFormat.PcapNg, reader.Format);
        Assert.Equal(2, reader.Interfaces.Count);
        Assert.Equal(nanoseconds, reader.Interfaces[0].FinerThanMicroseconds);
        long Cut(long ns) => nanoseconds ? ns : ns / 1000 * 1000;
        Assert.Equal(
            [(0, Cut(1_700_000_000_123_456_789L), 61, 61, (byte)1), (1, Cut(1_700_000_001_000_000_000L), 64, 1500, (byte)2),
             (0, Cut(1_700_000_002_000_000_001L), 62, 62, (byte)3)],
            records);
    }

    [Fact]
    public void Tshark_reads_the_interface_names_descriptions_and_directions()
    {
        var path = WriteSample(nanoseconds: true);

        var result = ExternalTool.Run("tshark", "-r", path, "-T", "fields", "-E", "separator=|",
            "-e", "frame.interface_id", "-e", "frame.interface_name", "-e", "frame.interface_description",
            "-e", "frame.packet_flags_direction", "-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.cap_len");

        // tshark 4.0 prints the direction bits in hex: 0x00000001 inbound, 0x00000002 outbound.
        Assert.True(result.ExitCode == 0, result.Stderr);
        Assert.Equal(
            [
                "0|erspan 198.18.1.10 session 7|198.18.1.10 -> 198.18.1.20, erspan-iii|0x00000001|1700000000.123456789|61|61",
                "1|vxlan 10.0.0.5 vni 42|10.0.0.5 -> 10.0.0.9, vxlan||1700000001.000000000|1500|64",
                "0|erspan 198.18.1.10 session 7|198.18.1.10 -> 198.18.1.20, erspan-iii|0x00000002|1700000002.000000001|62|62",
            ],
            result.Lines);
    }

    [Fact]
    public void Every_prefix_of_a_file_is_whole_blocks_or_reported_as_torn_never_an_exception_beyond_the_header()
    {
        var path = WriteSample(nanoseconds: false);
        var bytes = File.ReadAllBytes(path);
        var boundaries = new HashSet<int>();
        for (var at = 0; at < bytes.Length;)
        {
            boundaries.Add(at);
            at += BlockLength(bytes, at + 4);
        }

        boundaries.Add(bytes.Length);
        var sectionHeader = BlockLength(bytes, 4);
        for (var prefix = sectionHeader; prefix <= bytes.Length; prefix++)
        {
            using var stream = new MemoryStream(bytes, 0, prefix);
            using var reader = CaptureFileReader.Open(stream, leaveOpen: false, "prefix");
            CaptureReadStatus status;
            while ((status = reader.ReadNext(out _)) == CaptureReadStatus.Packet)
            {
            }

            Assert.True((status == CaptureReadStatus.EndOfFile) == boundaries.Contains(prefix), $"prefix {prefix}: {status}");
        }
    }

    private static int BlockLength(byte[] bytes, int at) => System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(at));

    [Fact]
    public void A_packet_on_an_interface_not_described_is_refused()
    {
        using var writer = new PcapNgWriter(new MemoryStream());
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.Write(Frame(60, 0), 0, 0, 60));
    }
}
