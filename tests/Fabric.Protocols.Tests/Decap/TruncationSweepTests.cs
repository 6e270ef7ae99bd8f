using Fabric.Protocols.Decap;
using Xunit;

namespace Fabric.Protocols.Tests.Decap;

/// <summary>
/// Must show 4: every prefix of a valid packet of each encapsulation. A capture that ends before
/// the inner Ethernet header is complete is <see cref="DecapStatus.Truncated"/>; one that ends
/// later yields the inner frame, marked truncated with its true wire length. Never an exception.
/// </summary>
public class TruncationSweepTests
{
    public static TheoryData<string> Encapsulations => new()
    {
        "vxlan", "vxlan-gpe-eth", "vxlan-gpe-ip", "geneve", "geneve-options", "geneve-ip", "gre-key-eth", "gre-ip",
        "gre-in-udp", "erspan-i", "erspan-ii", "erspan-iii", "erspan-iii-subheader", "erspan-iii-ip", "ip-in-ip",
        "vxlan-in-erspan-ii", "corpus:zeek/erspanII.pcap#1", "corpus:tcpdump/geneve.pcap#1", "corpus:zeek/tunnels_gre-erspan3-dot1q.pcap#1",
        "corpus:arkime/gre-erspan-vxlan.pcap#1", "corpus:tcpdump/vxlan.pcap#1", "corpus:packetnet/gre_all_options.pcap#1",
    };

    /// <summary>A valid frame and where its innermost payload begins (after the inner Ethernet
    /// header, or at the inner IP header when an Ethernet header gets synthesized).</summary>
    private static (byte[] Frame, int PayloadStart, int Depth) Build(string name)
    {
        var inner = PacketBuilder.InnerFrame();
        var ip = PacketBuilder.InnerIp();
        var options = new byte[12];
        Fabric.Protocols.Encap.HeaderWriter.WriteGeneveOption(options, 0x0108, 3, [1, 2, 3, 4, 5, 6, 7, 8]);
        byte[] frame = name switch
        {
            "vxlan" => PacketBuilder.Vxlan(inner),
            "vxlan-gpe-eth" => PacketBuilder.VxlanGpe(inner, VxlanGpeHeader.NextProtocolEthernet),
            "vxlan-gpe-ip" => PacketBuilder.VxlanGpe(ip, VxlanGpeHeader.NextProtocolIPv4),
            "geneve" => PacketBuilder.Geneve(inner),
            "geneve-options" => PacketBuilder.Geneve(inner, options: options),
            "geneve-ip" => PacketBuilder.Geneve(ip, EthernetHeader.TypeIPv4),
            "gre-key-eth" => PacketBuilder.Gre(inner),
            "gre-ip" => PacketBuilder.Gre(ip, GreHeader.ProtocolIPv4, key: null, sequence: 5),
            "gre-in-udp" => PacketBuilder.GreInUdp(ip),
            "erspan-i" => PacketBuilder.ErspanI(inner),
            "erspan-ii" => PacketBuilder.ErspanII(inner, PacketBuilder.DefaultErspanII),
            "erspan-iii" => PacketBuilder.ErspanIII(inner, PacketBuilder.DefaultErspanIII),
            "erspan-iii-subheader" => PacketBuilder.ErspanIII(inner, PacketBuilder.DefaultErspanIII with { PlatformSubheader = 42 }),
            "erspan-iii-ip" => PacketBuilder.ErspanIII(ip, PacketBuilder.DefaultErspanIII with { FrameType = ErspanIIIHeader.FrameTypeIp }),
            "ip-in-ip" => PacketBuilder.IpInIp(ip),
            "vxlan-in-erspan-ii" => PacketBuilder.ErspanII(PacketBuilder.Vxlan(inner), PacketBuilder.DefaultErspanII),
            _ => Corpus(name),
        };

        // Where the payload starts: decode the whole frame once and look at the result.
        var copy = (byte[])frame.Clone();
        var status = new Decapsulator(new DecapOptions()).Decapsulate(copy, 0, copy.Length, copy.Length, 0, out var result, out var md);
        Assert.Equal(DecapStatus.Ok, status);
        var payloadStart = md.SynthesizedEthernet
            ? result.Offset + EthernetHeader.MinLength
            : result.Offset + HeaderLengthOf(copy.AsSpan(result.Offset, result.Length));
        if (md.SynthesizedEthernet)
        {
            payloadStart++; // the IP version nibble must be captured: it is checked against the announced type
        }

        return (frame, payloadStart, md.Depth);
    }

    private static int HeaderLengthOf(ReadOnlySpan<byte> ethernet)
    {
        Assert.Equal(DecapStatus.Ok, EthernetHeader.TryRead(ethernet, out var header));
        return header.HeaderLength;
    }

    private static byte[] Corpus(string name)
    {
        // corpus:FILE#FRAME
        var hash = name.IndexOf('#', StringComparison.Ordinal);
        var file = name[7..hash];
        var number = int.Parse(name[(hash + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        var (_, frames) = CorpusCapture.Read(file);
        var frame = frames[number - 1];
        Assert.Equal(frame.Data.Length, frame.OriginalLength);
        return frame.Data;
    }

    [Theory]
    [MemberData(nameof(Encapsulations))]
    public void Every_prefix_of_a_captured_frame_is_truncated_or_a_truthfully_short_inner_frame(string name)
    {
        var (frame, payloadStart, depth) = Build(name);
        var decapsulator = new Decapsulator(new DecapOptions());
        var buffer = new byte[frame.Length];

        for (var prefix = 0; prefix < frame.Length; prefix++)
        {
            frame.CopyTo(buffer, 0);
            var status = decapsulator.Decapsulate(buffer, 0, prefix, frame.Length, 0, out var result, out var md);

            // Before the innermost payload: Truncated, or (nested tunnels only) an intermediate inner
            // frame, emitted because the capture ends before its own tunnel could be recognised.
            var expectTruncated = prefix < payloadStart && !(status == DecapStatus.Ok && md.Depth < depth);
            var expected = expectTruncated ? DecapStatus.Truncated : DecapStatus.Ok;
            Assert.True(status == expected, $"prefix {prefix}: {status}, depth {md.Depth}");
            if (status == DecapStatus.Ok)
            {
                Assert.Equal(prefix, result.Offset + result.Length);
                Assert.True(result.IsTruncated);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Encapsulations))]
    public void Every_prefix_of_a_frame_short_on_the_wire_is_refused_cleanly(string name)
    {
        // The frame really was that short (original length = captured length): lengths in the
        // headers now claim more than the wire had. Any status but Ok, and never an exception.
        var (frame, payloadStart, depth) = Build(name);
        var decapsulator = new Decapsulator(new DecapOptions());
        var buffer = new byte[frame.Length];

        for (var prefix = 0; prefix < payloadStart; prefix++)
        {
            frame.CopyTo(buffer, 0);
            var status = decapsulator.Decapsulate(buffer, 0, prefix, prefix, 0, out _, out _);
            Assert.True(DecapStatusInfo.IsError(status), $"prefix {prefix}: {status}");
        }
    }
}
