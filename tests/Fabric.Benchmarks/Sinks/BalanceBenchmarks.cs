using BenchmarkDotNet.Attributes;
using Fabric.Actors.DataPlane;
using Fabric.Actors.Sinks;
using Fabric.Benchmarks.Decap;
using Fabric.Protocols.Decap;
using Fabric.Protocols.Encap;

namespace Fabric.Benchmarks.Sinks;

/// <summary>
/// What a balance sink adds per frame to decapsulation: <see cref="DecapOnly"/> decapsulates a batch of 1024 VXLAN
/// packets (IMIX inner sizes 7:4:1 of 64/576/1500 bytes, 128 inner flows, both directions) into a
/// <see cref="PacketBatch"/>'s arrays as the decap stage does; <see cref="DecapAndBalance"/> does the same and then
/// splits the batch over <see cref="Members"/> members (<see cref="BalanceSplitter"/>: symmetric 5-tuple hash,
/// rendezvous, one view per member, handed on and released as the members would). The difference of the two is
/// the balance cost per frame (goal: at most 10 ns). Allocation must be 0 B.
/// </summary>
[MemoryDiagnoser]
[MinColumn]
[MedianColumn]
public class BalanceBenchmarks
{
    private const int BatchSize = 1024;

    private readonly int[] _outerOffsets = new int[BatchSize];
    private readonly int[] _outerLengths = new int[BatchSize];
    private readonly long[] _memberBytes = new long[8];
    private PacketBatch _batch = null!;
    private PacketBatch?[] _views = [];
    private PacketBatch[] _free = [];
    private int _freeCount;
    private Func<PacketBatch, PacketBatch> _rent = null!;
    private Decapsulator _decapsulator = null!;
    private BalanceSplitter _splitter = null!;
    private ulong _up;

    [Params(3, 8)]
    public int Members { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _decapsulator = new Decapsulator(new DecapOptions());
        _batch = PacketBatch.CreateUnpooled(BatchSize, 4 << 20);
        for (int i = 0; i < BatchSize; i++)
        {
            int innerLength = (i % 12) switch { < 7 => 64, < 11 => 576, _ => 1500 };
            var packet = SamplePackets.Vxlan(Inner(innerLength, i), 4242);
            if (!_batch.TryAppend(packet, packet.Length, i))
            {
                throw new InvalidOperationException("batch buffer too small");
            }

            _outerOffsets[i] = _batch.Offsets[i];
            _outerLengths[i] = _batch.CapturedLengths[i];
        }

        _splitter = new BalanceSplitter([.. Enumerable.Range(0, Members).Select(m => BalanceSinkActor.Seed($"tap-mon{m}"))]);
        _views = new PacketBatch?[Members];
        _free = [.. Enumerable.Range(0, Members).Select(_ => PacketBatch.CreateUnpooledView(BatchSize))];
        _freeCount = _free.Length;
        _rent = Rent;
        _up = (1UL << Members) - 1;
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = BatchSize)]
    public int DecapOnly() => Decapsulate();

    [Benchmark(OperationsPerInvoke = BatchSize)]
    public long DecapAndBalance()
    {
        int emitted = Decapsulate();
        _batch.SetReferences(1);
        long moved = _splitter.Split(_batch, BatchSize, _up, _views, _memberBytes, _rent);
        for (int m = 0; m < _views.Length; m++)
        {
            var view = _views[m];
            if (view is null)
            {
                continue;
            }

            _views[m] = null;
            _memberBytes[m] = 0;
            view.SetReferences(1);
            view.Release();
            _free[_freeCount++] = view;
        }

        _batch.Release();
        return emitted + moved;
    }

    private int Decapsulate()
    {
        var batch = _batch;
        var decapsulator = _decapsulator;
        var buffer = batch.Buffer;
        int emitted = 0;
        for (int i = 0; i < BatchSize; i++)
        {
            decapsulator.Decapsulate(buffer, _outerOffsets[i], _outerLengths[i], _outerLengths[i], i, out var result, out _);
            batch.Offsets[i] = result.Offset;
            batch.CapturedLengths[i] = result.Length;
            emitted += result.Length;
        }

        return emitted;
    }

    private PacketBatch Rent(PacketBatch source)
    {
        var view = _free[--_freeCount];
        view.Borrow(source);
        return view;
    }

    /// <summary>An inner Ethernet/IPv4/UDP frame of flow <c>i % 128</c>, every other one the reply direction.</summary>
    private static byte[] Inner(int length, int i)
    {
        var frame = SamplePackets.InnerFrame(length);
        int flow = i % 256 / 2;
        bool reply = (i & 1) == 1;
        byte[] a = [192, 168, 1, (byte)flow], b = [10, 0, 0, 1];
        HeaderWriter.WriteIpv4(frame.AsSpan(14), reply ? b : a, reply ? a : b, Ipv4Header.ProtocolUdp, length - 34);
        HeaderWriter.WriteUdp(frame.AsSpan(34), (ushort)(reply ? 53 : 40000 + flow), (ushort)(reply ? 40000 + flow : 53), length - 42);
        return frame;
    }
}

/// <summary>The same measurement in thread CPU time (see <see cref="ThreadCpuClock"/>), for a loaded machine.</summary>
[Config(typeof(CpuTimeConfig))]
public class BalanceCpuTimeBenchmarks : BalanceBenchmarks
{
}
