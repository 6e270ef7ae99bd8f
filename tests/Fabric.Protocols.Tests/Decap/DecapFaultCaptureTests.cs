using Fabric.Protocols.Decap;
using Fabric.Protocols.Encap;
using Fabric.Protocols.Pcap;
using Xunit;

namespace Fabric.Protocols.Tests.Decap;

/// <summary>
/// Issue 15, Must show 5: the two decap faults, on generated captures. (1) A tunnel that announces
/// an IP payload (GRE 0x0800/0x86DD, Geneve and VXLAN-GPE IP, ERSPAN III frame type 2, IP-in-IP)
/// whose payload is empty, shorter than an IP header, or of another version emitted a synthesized
/// 14-byte Ethernet header (plus a runt) before; now nothing is emitted and each is counted under
/// its named status. (2) Geneve with the C bit and an unknown critical option: its own outcome
/// under both settings of <c>geneve.unknown-critical-options</c>.
/// The frames are built by the header writers (PacketBuilder), written with <see cref="PcapWriter"/>
/// and read back with <see cref="CaptureFileReader"/>, as <c>fabric decap</c> reads a stored capture.
/// </summary>
public sealed class DecapFaultCaptureTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("fq-decap-faults-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static readonly byte[] V4 = PacketBuilder.InnerIp();

    /// <summary>The same IPv4 packet with IHL 4 (below the minimum of 5 words).</summary>
    private static byte[] V4BadIhl()
    {
        var copy = (byte[])V4.Clone();
        copy[0] = 0x44;
        return copy;
    }

    private static byte[] Garbage(byte first, int length)
    {
        var bytes = new byte[length];
        bytes[0] = first;
        return bytes;
    }

    private static byte[] ErspanIIIIp(byte[] payload)
        => PacketBuilder.ErspanIII(payload, PacketBuilder.DefaultErspanIII with { FrameType = ErspanIIIHeader.FrameTypeIp });

    /// <summary>Every malformed kind, with the status it must be counted under.</summary>
    public static TheoryData<string, DecapStatus> Faults => new()
    {
        { "gre-ipv4-empty", DecapStatus.IpPayloadEmpty },
        { "gre-ipv4-runt-6", DecapStatus.IpPayloadTooShort },
        { "gre-ipv4-ihl-4", DecapStatus.IpPayloadTooShort },
        { "gre-ipv6-carrying-ipv4", DecapStatus.IpPayloadBadVersion },
        { "gre-ipv4-version-0", DecapStatus.IpPayloadBadVersion },
        { "gre-ipv6-runt-39", DecapStatus.IpPayloadTooShort },
        { "geneve-ipv4-empty", DecapStatus.IpPayloadEmpty },
        { "geneve-ipv4-runt-6", DecapStatus.IpPayloadTooShort },
        { "geneve-ipv4-carrying-ipv6", DecapStatus.IpPayloadBadVersion },
        { "vxlan-gpe-ipv4-empty", DecapStatus.IpPayloadEmpty },
        { "vxlan-gpe-ipv4-runt-6", DecapStatus.IpPayloadTooShort },
        { "vxlan-gpe-ipv6-carrying-ipv4", DecapStatus.IpPayloadBadVersion },
        { "erspan-iii-ip-empty", DecapStatus.IpPayloadEmpty },
        { "erspan-iii-ip-runt-6", DecapStatus.IpPayloadTooShort },
        { "erspan-iii-ip-version-3", DecapStatus.IpPayloadBadVersion },
        { "ip-in-ip-runt-6", DecapStatus.IpPayloadTooShort },
        { "ipv6-in-ip-carrying-ipv4", DecapStatus.IpPayloadBadVersion },
    };

    private static byte[] Build(string kind) => kind switch
    {
        "gre-ipv4-empty" => PacketBuilder.Gre([], GreHeader.ProtocolIPv4, key: null),
        "gre-ipv4-runt-6" => PacketBuilder.Gre(V4[..6], GreHeader.ProtocolIPv4, key: null),
        "gre-ipv4-ihl-4" => PacketBuilder.Gre(V4BadIhl(), GreHeader.ProtocolIPv4, key: null),
        "gre-ipv6-carrying-ipv4" => PacketBuilder.Gre(V4, GreHeader.ProtocolIPv6, key: null),
        "gre-ipv4-version-0" => PacketBuilder.Gre(Garbage(0x05, 40), GreHeader.ProtocolIPv4, key: null),
        "gre-ipv6-runt-39" => PacketBuilder.Gre(Garbage(0x60, 39), GreHeader.ProtocolIPv6, key: null),
        "geneve-ipv4-empty" => PacketBuilder.Geneve([], EthernetHeader.TypeIPv4),
        "geneve-ipv4-runt-6" => PacketBuilder.Geneve(V4[..6], EthernetHeader.TypeIPv4),
        "geneve-ipv4-carrying-ipv6" => PacketBuilder.Geneve(Garbage(0x60, 60), EthernetHeader.TypeIPv4),
        "vxlan-gpe-ipv4-empty" => PacketBuilder.VxlanGpe([], VxlanGpeHeader.NextProtocolIPv4),
        "vxlan-gpe-ipv4-runt-6" => PacketBuilder.VxlanGpe(V4[..6], VxlanGpeHeader.NextProtocolIPv4),
        "vxlan-gpe-ipv6-carrying-ipv4" => PacketBuilder.VxlanGpe(V4, VxlanGpeHeader.NextProtocolIPv6),
        "erspan-iii-ip-empty" => ErspanIIIIp([]),
        "erspan-iii-ip-runt-6" => ErspanIIIIp(V4[..6]),
        "erspan-iii-ip-version-3" => ErspanIIIIp(Garbage(0x35, 40)),
        "ip-in-ip-runt-6" => PacketBuilder.IpInIp(V4[..6]),
        "ipv6-in-ip-carrying-ipv4" => PacketBuilder.OuterIpv4(Ipv4Header.ProtocolIPv6, V4),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>Writes <paramref name="frames"/> as a classic pcap, reads it back, decapsulates every
    /// record in place; returns the count per status and the frames that would be emitted.</summary>
    private (long[] Counts, List<byte[]> Emitted) DecapCapture(IEnumerable<byte[]> frames, DecapOptions options)
    {
        var path = Path.Combine(_directory, $"{Guid.NewGuid():N}.pcap");
        using (var writer = PcapWriter.Create(path, LinkTypes.Ethernet))
        {
            long time = 1_700_000_000_000_000_000;
            foreach (var frame in frames)
            {
                writer.Write(frame, time, frame.Length);
                time += 1000;
            }
        }

        var counts = new long[DecapStatusInfo.Count];
        var emitted = new List<byte[]>();
        var decapsulator = new Decapsulator(options);
        using var reader = CaptureFileReader.Open(path);
        while (reader.ReadNext(out var record) == CaptureReadStatus.Packet)
        {
            var bytes = record.WritableData;
            var status = decapsulator.Decapsulate(bytes, 0, bytes.Length, record.OriginalLength, record.TimestampNs, out var result, out _);
            counts[(int)status]++;
            if (DecapStatusInfo.Emits(status))
            {
                emitted.Add(bytes.Slice(result.Offset, result.Length).ToArray());
            }
        }

        return (counts, emitted);
    }

    [Theory]
    [MemberData(nameof(Faults))]
    public void Malformed_ip_payload_is_counted_and_never_emitted(string kind, DecapStatus expected)
    {
        var (counts, emitted) = DecapCapture(Enumerable.Repeat(Build(kind), 3), new DecapOptions());

        Assert.Empty(emitted);
        Assert.Equal(3, counts[(int)expected]);
        Assert.Equal(3, counts.Sum());
        Assert.True(DecapStatusInfo.IsError(expected));
    }

    [Fact]
    public void A_mix_of_every_fault_and_good_ip_payloads_emits_exactly_the_good_ones()
    {
        var faults = Faults.Select(row => Build((string)row[0])).ToList();
        var good = new[]
        {
            PacketBuilder.Gre(V4, GreHeader.ProtocolIPv4, key: null),
            PacketBuilder.Geneve(V4, EthernetHeader.TypeIPv4),
            PacketBuilder.VxlanGpe(V4, VxlanGpeHeader.NextProtocolIPv4),
            ErspanIIIIp(V4),
            PacketBuilder.IpInIp(V4),
        };

        var (counts, emitted) = DecapCapture(faults.Concat(good), new DecapOptions());

        Assert.Equal(good.Length, emitted.Count);
        Assert.Equal(good.Length, counts[(int)DecapStatus.Ok]);
        Assert.All(emitted, frame => Assert.Equal(EthernetHeader.MinLength + V4.Length, frame.Length));
        Assert.All(emitted, frame => Assert.Equal(V4, frame[EthernetHeader.MinLength..]));
        foreach (var status in new[] { DecapStatus.IpPayloadEmpty, DecapStatus.IpPayloadTooShort, DecapStatus.IpPayloadBadVersion })
        {
            Assert.Equal(Faults.Count(row => (DecapStatus)row[1] == status), counts[(int)status]);
        }
    }

    [Fact]
    public void Ip_payload_cut_by_the_capture_inside_its_header_is_still_a_visibly_truncated_frame()
    {
        // The wire had the whole IPv4 packet; the capture kept 6 bytes of it (snaplen).
        var frame = PacketBuilder.Gre(V4, GreHeader.ProtocolIPv4, key: null);
        var captured = frame.Length - V4.Length + 6;
        var buffer = (byte[])frame.Clone();

        var status = new Decapsulator(new DecapOptions()).Decapsulate(buffer, 0, captured, frame.Length, 0, out var result, out _);

        Assert.Equal(DecapStatus.Ok, status);
        Assert.Equal(EthernetHeader.MinLength + 6, result.Length);
        Assert.Equal(EthernetHeader.MinLength + V4.Length, result.OriginalLength);
    }

    // ---- Geneve C bit with an unknown critical option -------------------------------------------

    private static byte[] Option(ushort optionClass, byte type)
    {
        var option = new byte[8];
        HeaderWriter.WriteGeneveOption(option, optionClass, type, [1, 2, 3, 4]);
        return option;
    }

    /// <summary>Class 0x0102 (Open vSwitch) type 0x85: critical bit set, not a class/type Fabric reads.</summary>
    private static byte[] UnknownCritical() => PacketBuilder.Geneve(PacketBuilder.InnerFrame(), options: Option(0x0102, 0x85), critical: true);

    [Fact]
    public void Geneve_unknown_critical_option_under_drop_is_its_own_drop_status()
    {
        var buffer = UnknownCritical();
        var decapsulator = new Decapsulator(new DecapOptions { GeneveUnknownCriticalOptions = GeneveCriticalPolicy.Drop });

        var status = decapsulator.Decapsulate(buffer, 0, buffer.Length, buffer.Length, 0, out _, out var md);

        Assert.Equal(DecapStatus.GeneveUnknownCriticalOption, status);
        Assert.False(md.GeneveUnknownCritical);
    }

    [Fact]
    public void Geneve_unknown_critical_option_under_forward_is_emitted_and_marked()
    {
        var buffer = UnknownCritical();
        var decapsulator = new Decapsulator(new DecapOptions());

        var status = decapsulator.Decapsulate(buffer, 0, buffer.Length, buffer.Length, 0, out var result, out var md);

        Assert.Equal(DecapStatus.Ok, status);
        Assert.True(md.GeneveUnknownCritical);
        Assert.Equal(PacketBuilder.InnerFrame(), buffer.AsSpan(result.Offset, result.Length).ToArray());
    }

    [Fact]
    public void Geneve_drop_policy_on_a_capture_emits_nothing_of_the_unknown_critical_kind_and_keeps_the_rest()
    {
        var frames = new[]
        {
            UnknownCritical(),
            UnknownCritical(),
            // Critical bit on an option Fabric reads (AWS GWLB flow cookie, type 3 | 0x80): known, forwarded.
            PacketBuilder.Geneve(PacketBuilder.InnerFrame(), options: Option(GeneveHeader.OptionClassAws, 0x83), critical: true),
            // Unknown option without the critical bit, C bit clear: an ordinary option, forwarded.
            PacketBuilder.Geneve(PacketBuilder.InnerFrame(), options: Option(0x0102, 0x05)),
        };

        var dropped = DecapCapture(frames, new DecapOptions { GeneveUnknownCriticalOptions = GeneveCriticalPolicy.Drop });
        var forwarded = DecapCapture(frames, new DecapOptions());

        Assert.Equal(2, dropped.Counts[(int)DecapStatus.GeneveUnknownCriticalOption]);
        Assert.Equal(2, dropped.Emitted.Count);
        Assert.Equal(0, forwarded.Counts[(int)DecapStatus.GeneveUnknownCriticalOption]);
        Assert.Equal(4, forwarded.Emitted.Count);
    }

    [Fact]
    public void New_statuses_have_stable_names()
    {
        Assert.Equal("ip-payload-empty", DecapStatusInfo.Name(DecapStatus.IpPayloadEmpty));
        Assert.Equal("ip-payload-too-short", DecapStatusInfo.Name(DecapStatus.IpPayloadTooShort));
        Assert.Equal("ip-payload-bad-version", DecapStatusInfo.Name(DecapStatus.IpPayloadBadVersion));
        Assert.Equal("geneve-unknown-critical-option", DecapStatusInfo.Name(DecapStatus.GeneveUnknownCriticalOption));
        Assert.False(DecapStatusInfo.Emits(DecapStatus.GeneveUnknownCriticalOption));
    }
}
