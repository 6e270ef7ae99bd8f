using BenchmarkDotNet.Attributes;
using Fabric.Benchmarks.Decap;
using Fabric.Protocols.Decap;
using Fabric.Protocols.Encap;
using Fabric.Protocols.Pcap;

namespace Fabric.Benchmarks.Pcap;

/// <summary>
/// Issue 15: what a source id and pcapng cost on the decap-and-write path. A batch of 1024 packets from four
/// mirror sessions (two ERSPAN III sessions, direction alternating; VXLAN with two VNIs), IMIX inner sizes
/// (64/576/1500 as <see cref="VniCountingBenchmarks"/>), decapsulated and written: baseline classic pcap
/// (<see cref="PcapWriter"/>), then source id (<see cref="SourceTable"/>) + direction + switch time +
/// <see cref="PcapNgWriter"/> on the session's interface. Both write to <see cref="Stream.Null"/> through their
/// 1 MiB buffers (the copy and the block/record headers are measured, not the disk). Per packet; 0 B.
/// </summary>
[MemoryDiagnoser]
[MinColumn]
[MedianColumn]
public class PcapNgSinkBenchmarks
{
    private const int BatchSize = 1024;

    private readonly int[] _offsets = new int[BatchSize];
    private readonly int[] _lengths = new int[BatchSize];
    private readonly int[] _interfaceOf = new int[SourceTable.Limit + 1];
    private byte[] _buffer = [];
    private Decapsulator _decapsulator = null!;
    private SourceTable _sources = null!;
    private PcapWriter _classic = null!;
    private PcapNgWriter _ng = null!;

    [GlobalSetup]
    public void Setup()
    {
        _decapsulator = new Decapsulator(new DecapOptions());
        _sources = new SourceTable(256);
        _classic = new PcapWriter(Stream.Null, LinkTypes.Ethernet, nanoseconds: true);
        _ng = new PcapNgWriter(Stream.Null, nanoseconds: true);
        Array.Fill(_interfaceOf, -1);
        var frames = new List<byte[]>(BatchSize);
        for (var i = 0; i < BatchSize; i++)
        {
            var inner = SamplePackets.InnerFrame((i % 12) switch { < 7 => 64, < 11 => 576, _ => 1500 });
            frames.Add((i % 4) switch
            {
                0 or 1 => SamplePackets.Gre(inner, GreHeader.ProtocolErspanIII, null, (uint)i,
                    SamplePackets.ErspanIII(new ErspanIIIFields((ushort)(100 + (i % 4)), 20, 0, 0, false, (uint)i, 0, false, 0, 3, (byte)((i >> 2) & 1), 1, null))),
                _ => SamplePackets.Vxlan(inner, (uint)(4242 + (i % 4))),
            });
        }

        _buffer = new byte[frames.Sum(f => f.Length)];
        var offset = 0;
        for (var i = 0; i < BatchSize; i++)
        {
            frames[i].CopyTo(_buffer, offset);
            _offsets[i] = offset;
            _lengths[i] = frames[i].Length;
            offset += frames[i].Length;
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _classic.Dispose();
        _ng.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = BatchSize)]
    public long DecapAndClassicPcap()
    {
        var writer = _classic;
        for (var i = 0; i < BatchSize; i++)
        {
            var status = _decapsulator.Decapsulate(_buffer, _offsets[i], _lengths[i], _lengths[i], i, out var result, out _);
            if (DecapStatusInfo.Emits(status))
            {
                writer.Write(_buffer.AsSpan(result.Offset, result.Length), 1_700_000_000_000_000_000L + i, result.OriginalLength);
            }
        }

        return writer.RecordCount;
    }

    [Benchmark(OperationsPerInvoke = BatchSize)]
    public long DecapSourceIdAndPcapNg()
    {
        var writer = _ng;
        var sources = _sources;
        for (var i = 0; i < BatchSize; i++)
        {
            var status = _decapsulator.Decapsulate(_buffer, _offsets[i], _lengths[i], _lengths[i], i, out var result, out var metadata);
            if (!DecapStatusInfo.Emits(status))
            {
                continue;
            }

            long time = 1_700_000_000_000_000_000L + i;
            var id = sources.Resolve(metadata, result.Length, time);
            var index = _interfaceOf[id];
            if (index < 0)
            {
                index = writer.AddInterface(LinkTypes.Ethernet, sources[id].Name, sources[id].Description);
                _interfaceOf[id] = index;
            }

            var switchTime = ErspanTime.SwitchNanoseconds(metadata);
            writer.Write(_buffer.AsSpan(result.Offset, result.Length), index, switchTime != 0 ? switchTime : time, result.OriginalLength,
                ErspanTime.Direction(metadata));
        }

        return writer.RecordCount;
    }
}

/// <summary>The same measurement in thread CPU time (see <see cref="ThreadCpuClock"/>), for a shared machine.</summary>
[Config(typeof(CpuTimeConfig))]
public class PcapNgSinkCpuTimeBenchmarks : PcapNgSinkBenchmarks
{
}
