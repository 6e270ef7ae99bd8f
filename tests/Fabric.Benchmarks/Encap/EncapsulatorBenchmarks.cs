using BenchmarkDotNet.Attributes;
using Fabric.Benchmarks.Decap;
using Fabric.Protocols.Encap;

namespace Fabric.Benchmarks.Encap;

/// <summary>
/// Encapsulator cost per packet (the forwarder sink): outer Ethernet/IPv4 + tunnel headers written
/// in front of a 576-byte inner frame already in the buffer (<see cref="Encapsulator.EncapsulateInPlace"/>,
/// no copy of the frame), or copied into a destination buffer (<see cref="Encapsulator.Encapsulate"/>).
/// Measured in thread CPU time (see <see cref="ThreadCpuClock"/>).
/// </summary>
[Config(typeof(CpuTimeConfig))]
[MemoryDiagnoser]
[MinColumn]
[MedianColumn]
public class EncapsulatorBenchmarks
{
    private const int Headroom = 128;
    private const int Batch = 256;

    private Encapsulator _encapsulator = null!;
    private byte[] _inner = [];
    private byte[] _buffer = [];
    private byte[] _destination = [];

    [Params(EncapsulationType.Vxlan, EncapsulationType.Gre, EncapsulationType.ErspanII, EncapsulationType.ErspanIII)]
    public EncapsulationType Type { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _encapsulator = new Encapsulator(new EncapOptions { Type = Type, GreKey = 42, Vni = 4242, ErspanSessionId = 7 });
        _inner = SamplePackets.InnerFrame(576);
        _buffer = new byte[Headroom + _inner.Length];
        _inner.CopyTo(_buffer, Headroom);
        _destination = new byte[Headroom + _inner.Length];
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int InPlace()
    {
        var start = 0;
        for (var i = 0; i < Batch; i++)
        {
            start += _encapsulator.EncapsulateInPlace(_buffer, Headroom, _inner.Length);
        }

        return start;
    }

    [Benchmark(OperationsPerInvoke = Batch)]
    public int Copying()
    {
        var written = 0;
        for (var i = 0; i < Batch; i++)
        {
            written += _encapsulator.Encapsulate(_inner, _destination);
        }

        return written;
    }
}
