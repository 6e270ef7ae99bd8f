using BenchmarkDotNet.Attributes;
using Fabric.Protocols.Decap;
using Fabric.Protocols.Encap;

namespace Fabric.Benchmarks.Decap;

/// <summary>The encapsulations measured (each as mirrored traffic arrives on a sensor).</summary>
public enum Encapsulation
{
    ErspanI,
    ErspanII,
    ErspanIII,
    Gre,
    Vxlan,
    Geneve,
    NotEncapsulated,
}

/// <summary>
/// Decapsulator cost per packet: one invocation decapsulates a batch of 1024 packets laid out in
/// one buffer like a PacketBatch (IMIX inner sizes 7:4:1 of 64/576/1500 bytes), so the reported
/// time is per packet. Inner payloads are Ethernet, so decapsulation only moves offsets and the
/// same batch can be decoded again and again. Allocation must be 0 B.
/// </summary>
[MemoryDiagnoser]
[MinColumn]
[MedianColumn]
public class DecapsulatorBenchmarks
{
    private const int BatchSize = 1024;

    private readonly int[] _offsets = new int[BatchSize];
    private readonly int[] _lengths = new int[BatchSize];
    private readonly PacketMetadata[] _metadata = new PacketMetadata[BatchSize];
    private readonly int[] _statusCounts = new int[DecapStatusInfo.Count];
    private byte[] _buffer = [];
    private Decapsulator _decapsulator = null!;

    [Params(Encapsulation.ErspanI, Encapsulation.ErspanII, Encapsulation.ErspanIII, Encapsulation.Gre, Encapsulation.Vxlan,
        Encapsulation.Geneve, Encapsulation.NotEncapsulated)]
    public Encapsulation Kind { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _decapsulator = new Decapsulator(new DecapOptions());
        var frames = new List<byte[]>(BatchSize);
        for (var i = 0; i < BatchSize; i++)
        {
            var innerLength = (i % 12) switch { < 7 => 64, < 11 => 576, _ => 1500 };
            frames.Add(Build(Kind, SamplePackets.InnerFrame(innerLength), i));
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

        var expected = Kind == Encapsulation.NotEncapsulated ? DecapStatus.NotEncapsulated : DecapStatus.Ok;
        for (var i = 0; i < BatchSize; i++)
        {
            var status = _decapsulator.Decapsulate(_buffer, _offsets[i], _lengths[i], _lengths[i], 0, out _, out _);
            if (status != expected)
            {
                throw new InvalidOperationException($"{Kind} packet {i}: {status}");
            }
        }
    }

    private static byte[] Build(Encapsulation kind, byte[] inner, int i) => kind switch
    {
        Encapsulation.ErspanI => SamplePackets.Gre(inner, GreHeader.ProtocolErspanI_II, null, null, []),
        Encapsulation.ErspanII => SamplePackets.Gre(inner, GreHeader.ProtocolErspanI_II, null, (uint)i,
            SamplePackets.ErspanII(new ErspanIIFields(100, 23, 0, 1, false, (uint)i))),
        Encapsulation.ErspanIII => SamplePackets.Gre(inner, GreHeader.ProtocolErspanIII, null, (uint)i,
            SamplePackets.ErspanIII(new ErspanIIIFields(101, 20, 0, 0, false, (uint)i, 0, false, 0, 3, (byte)(i & 1), 3, null))),
        Encapsulation.Gre => SamplePackets.Gre(inner, GreHeader.ProtocolTransparentEthernetBridging, 0x12345602, null, []),
        Encapsulation.Vxlan => SamplePackets.Vxlan(inner, 4242),
        Encapsulation.Geneve => SamplePackets.Geneve(inner, 0x1092),
        _ => inner,
    };

    [Benchmark(OperationsPerInvoke = BatchSize)]
    public int DecapsulateBatch()
    {
        var decapsulator = _decapsulator;
        var buffer = _buffer;
        var counts = _statusCounts;
        var emitted = 0;
        for (var i = 0; i < BatchSize; i++)
        {
            var status = decapsulator.Decapsulate(buffer, _offsets[i], _lengths[i], _lengths[i], i, out var result, out _metadata[i]);
            counts[(int)status]++;
            emitted += result.Length;
        }

        return emitted;
    }
}

/// <summary>Realistic packets from the encoders (outer Ethernet/IPv4, inner Ethernet/IPv4/UDP).</summary>
internal static class SamplePackets
{
    private static readonly MacAddress A = MacAddress.Parse("64:00:f1:e2:01:12");
    private static readonly MacAddress B = MacAddress.Parse("64:00:f1:e2:01:01");
    private static readonly byte[] OuterSource = [10, 1, 1, 1];
    private static readonly byte[] OuterDestination = [10, 2, 2, 2];

    public static byte[] InnerFrame(int length)
    {
        var frame = new byte[length];
        HeaderWriter.WriteEthernet(frame, B, A, EthernetHeader.TypeIPv4);
        HeaderWriter.WriteIpv4(frame.AsSpan(14), [192, 168, 1, 1], [192, 168, 1, 2], Ipv4Header.ProtocolUdp, length - 34);
        HeaderWriter.WriteUdp(frame.AsSpan(34), 1234, 80, length - 42);
        return frame;
    }

    private static byte[] Outer(byte protocol, params byte[][] parts)
    {
        var payload = parts.Sum(p => p.Length);
        var frame = new byte[34 + payload];
        HeaderWriter.WriteEthernet(frame, A, B, EthernetHeader.TypeIPv4);
        HeaderWriter.WriteIpv4(frame.AsSpan(14), OuterSource, OuterDestination, protocol, payload);
        var offset = 34;
        foreach (var part in parts)
        {
            part.CopyTo(frame, offset);
            offset += part.Length;
        }

        return frame;
    }

    public static byte[] Gre(byte[] inner, ushort protocol, uint? key, uint? sequence, byte[] erspan)
    {
        var gre = new byte[16];
        var n = HeaderWriter.WriteGre(gre, protocol, key, sequence);
        return Outer(Ipv4Header.ProtocolGre, gre[..n], erspan, inner);
    }

    public static byte[] ErspanII(ErspanIIFields fields)
    {
        var bytes = new byte[ErspanIIHeader.HeaderLength];
        HeaderWriter.WriteErspanII(bytes, fields);
        return bytes;
    }

    public static byte[] ErspanIII(ErspanIIIFields fields)
    {
        var bytes = new byte[ErspanIIIHeader.BaseLength];
        HeaderWriter.WriteErspanIII(bytes, fields);
        return bytes;
    }

    public static byte[] Vxlan(byte[] inner, uint vni)
    {
        var vxlan = new byte[8];
        HeaderWriter.WriteVxlan(vxlan, vni);
        var udp = new byte[8];
        HeaderWriter.WriteUdp(udp, 49152, 4789, 8 + inner.Length);
        return Outer(Ipv4Header.ProtocolUdp, udp, vxlan, inner);
    }

    public static byte[] Geneve(byte[] inner, uint vni)
    {
        // One AWS GWLB flow-cookie option, as GWLB sends.
        var options = new byte[8];
        HeaderWriter.WriteGeneveOption(options, GeneveHeader.OptionClassAws, GeneveHeader.AwsGwlbFlowCookieType, [1, 2, 3, 4]);
        var geneve = new byte[16];
        HeaderWriter.WriteGeneve(geneve, vni, EthernetHeader.TypeTransparentEthernetBridging, options);
        var udp = new byte[8];
        HeaderWriter.WriteUdp(udp, 49152, 6081, geneve.Length + inner.Length);
        return Outer(Ipv4Header.ProtocolUdp, udp, geneve, inner);
    }
}

/// <summary>The same measurement in thread CPU time (see <see cref="ThreadCpuClock"/>), for a loaded machine.</summary>
[Config(typeof(CpuTimeConfig))]
public class DecapsulatorCpuTimeBenchmarks : DecapsulatorBenchmarks
{
}
