using BenchmarkDotNet.Attributes;
using Fabric.Protocols.Pcap;
using SharpPcap;
using SharpPcap.LibPcap;

namespace Fabric.Benchmarks.Pcap;

/// <summary>
/// Reading and writing a big classic pcap file: Fabric's own reader/writer against SharpPcap's
/// libpcap-backed file devices (the decision recorded in docs/bench-decap-file.md). The file is an
/// IMIX mix (7:4:1 of 64/576/1500-byte frames), 200 000 records (about 74 MB), read from the page cache.
/// </summary>
[MemoryDiagnoser]
public class CaptureFileBenchmarks
{
    private const int Records = 200_000;
    private static readonly int[] Imix = [64, 64, 64, 64, 64, 64, 64, 576, 576, 576, 576, 1500];
    private string _path = "";
    private string _outputPath = "";
    private byte[] _frame = [];

    [GlobalSetup]
    public void Setup()
    {
        _path = Path.Combine(Path.GetTempPath(), $"fq-bench-{Environment.ProcessId}.pcap");
        _outputPath = Path.Combine(Path.GetTempPath(), $"fq-bench-{Environment.ProcessId}-out.pcap");
        _frame = new byte[1500];
        Random.Shared.NextBytes(_frame);
        using var writer = PcapWriter.Create(_path, LinkTypes.Ethernet);
        for (var i = 0; i < Records; i++)
        {
            var length = Imix[i % Imix.Length];
            writer.Write(_frame.AsSpan(0, length), 1_700_000_000_000_000_000L + i * 1_000L, length);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        File.Delete(_path);
        File.Delete(_outputPath);
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Records)]
    public long Read_Fabric()
    {
        long bytes = 0;
        using var reader = CaptureFileReader.Open(_path);
        while (reader.ReadNext(out var record) == CaptureReadStatus.Packet)
        {
            bytes += record.CapturedLength + record.Data[^1];
        }

        return bytes;
    }

    [Benchmark(OperationsPerInvoke = Records)]
    public long Read_SharpPcap()
    {
        long bytes = 0;
        using var device = new CaptureFileReaderDevice(_path);
        device.Open();
        while (device.GetNextPacket(out var capture) == GetPacketStatus.PacketRead)
        {
            bytes += capture.Data.Length + capture.Data[^1];
        }

        return bytes;
    }

    [Benchmark(OperationsPerInvoke = Records)]
    public long Copy_Fabric()
    {
        using var reader = CaptureFileReader.Open(_path);
        using var writer = PcapWriter.Create(_outputPath, reader.LinkType);
        while (reader.ReadNext(out var record) == CaptureReadStatus.Packet)
        {
            writer.Write(record);
        }

        return writer.Length;
    }

    [Benchmark(OperationsPerInvoke = Records)]
    public long Copy_SharpPcap()
    {
        long count = 0;
        using var device = new CaptureFileReaderDevice(_path);
        device.Open();
        using var writer = new CaptureFileWriterDevice(_outputPath);
        writer.Open(device);
        while (device.GetNextPacket(out var capture) == GetPacketStatus.PacketRead)
        {
            var header = (PcapHeader)capture.Header;
            writer.Write(capture.Data, ref header);
            count++;
        }

        return count;
    }
}
