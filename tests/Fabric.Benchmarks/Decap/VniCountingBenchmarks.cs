using BenchmarkDotNet.Attributes;
using Fabric.Actors.Decap;
using Fabric.Protocols.Decap;

namespace Fabric.Benchmarks.Decap;

/// <summary>
/// What counting frames per VNI adds to the decap stage: a batch of 1024 VXLAN packets (IMIX inner
/// sizes as <see cref="DecapsulatorBenchmarks"/>) spread over <see cref="Vnis"/> VNIs, decapsulated
/// alone (baseline) and then also counted in a <see cref="VniCounters"/> of 64 rows (1000 VNIs: most
/// go to "other"). Per packet; allocation must be 0 B.
/// </summary>
[MemoryDiagnoser]
[MinColumn]
[MedianColumn]
public class VniCountingBenchmarks
{
    private const int BatchSize = 1024;

    private readonly int[] _offsets = new int[BatchSize];
    private readonly int[] _lengths = new int[BatchSize];
    private byte[] _buffer = [];
    private Decapsulator _decapsulator = null!;
    private VniCounters _counters = null!;

    [Params(1, 64, 1000)]
    public int Vnis { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _decapsulator = new Decapsulator(new DecapOptions());
        _counters = new VniCounters(64, []);
        var frames = new List<byte[]>(BatchSize);
        for (var i = 0; i < BatchSize; i++)
        {
            var innerLength = (i % 12) switch { < 7 => 64, < 11 => 576, _ => 1500 };
            frames.Add(SamplePackets.Vxlan(SamplePackets.InnerFrame(innerLength), (uint)(1_000_000 + (i * 7919 % Vnis))));
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

    [Benchmark(Baseline = true, OperationsPerInvoke = BatchSize)]
    public int Decapsulate()
    {
        var emitted = 0;
        for (var i = 0; i < BatchSize; i++)
        {
            var status = _decapsulator.Decapsulate(_buffer, _offsets[i], _lengths[i], _lengths[i], i, out var result, out var metadata);
            if (DecapStatusInfo.Emits(status) && metadata.HasVni)
            {
                emitted += result.Length;
            }
        }

        return emitted;
    }

    [Benchmark(OperationsPerInvoke = BatchSize)]
    public int DecapsulateAndCountPerVni()
    {
        var emitted = 0;
        var counters = _counters;
        for (var i = 0; i < BatchSize; i++)
        {
            var status = _decapsulator.Decapsulate(_buffer, _offsets[i], _lengths[i], _lengths[i], i, out var result, out var metadata);
            if (DecapStatusInfo.Emits(status) && metadata.HasVni && counters.Count(metadata.Vni, _lengths[i]))
            {
                emitted += result.Length;
            }
        }

        return emitted;
    }
}

/// <summary>The same measurement in thread CPU time (see <see cref="ThreadCpuClock"/>), for a loaded machine.</summary>
[Config(typeof(CpuTimeConfig))]
public class VniCountingCpuTimeBenchmarks : VniCountingBenchmarks
{
}
