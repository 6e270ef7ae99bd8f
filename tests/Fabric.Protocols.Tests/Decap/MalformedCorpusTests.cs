using Fabric.Protocols.Decap;
using Xunit;

namespace Fabric.Protocols.Tests.Decap;

/// <summary>
/// Must show 3: malformed captures of the corpus are processed without an exception and every
/// bad packet is counted under a named status; plus every capture in INDEX.tsv under several
/// policies, and seeded byte mutations of them.
/// </summary>
public class MalformedCorpusTests
{
    private static DecapStatus[] Decapsulate(string file, DecapOptions options)
    {
        var (linkType, frames) = CorpusCapture.Read(file);
        var link = linkType == CorpusCapture.LinkTypeRaw ? LinkLayer.RawIp : LinkLayer.Ethernet;
        var decapsulator = new Decapsulator(options);
        return frames.Select(frame =>
        {
            var buffer = (byte[])frame.Data.Clone();
            return decapsulator.Decapsulate(buffer, 0, buffer.Length, frame.OriginalLength, frame.TimestampNanoseconds, link,
                out _, out _);
        }).ToArray();
    }

    public static TheoryData<string, string, string> MalformedCases => new()
    {
        // file, expected status per frame (name*count), why
        { "tcpdump/gre-heapoverflow-1.pcap", "not-encapsulated, ip-bad-version", "frame 1 EtherType 0x3030; frame 2 IPv4 with version 0 (tshark: Bogus IPv4 version)" },
        { "tcpdump/gre-heapoverflow-2.pcap", "not-encapsulated, gre-routing-unsupported", "frame 1 EtherType 0x3030; frame 2 GRE flags 0xc030: checksum + routing present (RFC 1701)" },
        { "tcpdump/erspan-type-iii-pb-1.pcap", "truncated", "ERSPAN III O bit set, capture ends before the platform subheader" },
        { "tcpdump/erspan-type-iii-ft-7.pcap", "erspan-frame-type-unsupported*58", "ERSPAN III frame type 7: payload is not Ethernet or IP" },
        { "zeek/tunnels_geneve-truncated.pcapng", "truncated", "capture ends inside the inner Ethernet header" },
        { "tcpdump/nsh-over-vxlan-gpe.pcap", "vxlan-gpe-next-protocol-unsupported", "VXLAN-GPE next protocol 4 (NSH)" },
        { "zeek/tunnels_geneve-arp.pcap", "geneve-protocol-unsupported", "Geneve protocol 0x0806: ARP with no Ethernet header" },
        { "suricata-verify/decode-arp-3_arp-encap.pcap", "gre-protocol-unsupported", "GRE protocol 0x0806" },
        { "tcpdump/wccp_redirect_gre.pcap", "gre-protocol-unsupported", "GRE protocol 0x883E (WCCP redirect header)" },
        { "zeek/tunnels_gre-aruba-amsdu.pcap", "gre-protocol-unsupported", "Aruba GRE 0x8240 carries 802.11, not Ethernet" },
        { "suricata-verify/security-8550_input.pcap", "fragment-held, reassembled", "outer fragments reassembled; the inner IPv4 fragment is inner traffic" },
        { "suricata-verify/decode-too-many-layers_input.pcap", "not-encapsulated", "MPLS pseudowire recursion: MPLS is not a tunnel Fabric peels" },
        { "zeek/tunnels_mpls-6in6-6in6-4in6-invalid-version-4.pcap", "not-encapsulated", "MPLS outer: not a tunnel Fabric peels" },
        { "tcpdump/bigtcp-ipv4-vxlan-ipv4.pcap", "ok", "IPv4 total length 0 (BIG TCP): length taken from the frame" },
        { "tcpdump/bigtcp-ipv6-geneve-ipv4.pcap", "ok", "IPv6 payload length 0 (BIG TCP): length taken from the frame" },
        { "zeek/tunnels_geneve-vxlan-dns-truncated.pcap", "ok*2", "snaplen cuts the inner DNS: inner frames emitted, marked truncated" },
    };

    [Theory]
    [MemberData(nameof(MalformedCases))]
    public void Malformed_capture_is_counted_under_named_statuses(string file, string expected, string why)
    {
        var statuses = Decapsulate(file, new DecapOptions());

        var expanded = expected.Split(", ").SelectMany(part =>
        {
            var star = part.IndexOf('*', StringComparison.Ordinal);
            return star < 0 ? [part] : Enumerable.Repeat(part[..star], int.Parse(part[(star + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        });
        Assert.True(expanded.SequenceEqual(statuses.Select(DecapStatusInfo.Name)),
            $"{file} ({why}): got {string.Join(", ", statuses.Select(DecapStatusInfo.Name))}");
    }

    [Fact]
    public void Triple_vxlan_beyond_max_depth_is_too_deep()
    {
        Assert.Equal([DecapStatus.TooDeep], Decapsulate("zeek/tunnels_vxlan-triple-v2.pcap", new DecapOptions { MaxDepth = 2 }));
        Assert.Equal([DecapStatus.Ok], Decapsulate("zeek/tunnels_vxlan-triple-v2.pcap", new DecapOptions { MaxDepth = 3 }));
    }

    private static IEnumerable<string> CaptureFiles()
        => File.ReadLines(CorpusCapture.PathOf("INDEX.tsv")).Skip(1).Select(line => line.Split('\t')[0])
            .Where(path => path.EndsWith(".pcap", StringComparison.Ordinal) || path.EndsWith(".pcapng", StringComparison.Ordinal));

    public static TheoryData<string> AllCaptures() => new(CaptureFiles());

    [Theory]
    [MemberData(nameof(AllCaptures))]
    public void Every_corpus_capture_under_every_policy_yields_only_named_statuses(string file)
    {
        var policies = new[]
        {
            new DecapOptions(),
            new DecapOptions { NonEncapsulated = NonEncapsulatedPolicy.Pass, ErspanVlan = ErspanVlanPolicy.Retag },
            new DecapOptions { VxlanReservedBits = ReservedBitsPolicy.Strict, MaxDepth = 1, AcceptedErspanTypes = ErspanTypes.TypeII },
            new DecapOptions { IpInIp = false, ReassemblyMaxDatagrams = 1, ReassemblyMaxBytes = 65535 },
        };
        foreach (var options in policies)
        {
            var statuses = Decapsulate(file, options);
            Assert.All(statuses, status => Assert.True(Enum.IsDefined(status) && status != DecapStatus.BadInput, status.ToString()));
        }
    }

    [Fact]
    public void Seeded_byte_mutations_of_every_corpus_frame_never_throw_and_stay_in_bounds()
    {
        var random = new Random(3);
        var decapsulator = new Decapsulator(new DecapOptions { ErspanVlan = ErspanVlanPolicy.Retag, NonEncapsulated = NonEncapsulatedPolicy.Pass });
        var runs = 0;
        foreach (var file in CaptureFiles())
        {
            var (_, frames) = CorpusCapture.Read(file);
            foreach (var frame in frames.Take(20))
            {
                for (var round = 0; round < 20; round++)
                {
                    var buffer = (byte[])frame.Data.Clone();
                    var flips = random.Next(1, 4);
                    for (var f = 0; f < flips && buffer.Length > 0; f++)
                    {
                        buffer[random.Next(buffer.Length)] = (byte)random.Next(256);
                    }

                    var length = random.Next(2) == 0 ? buffer.Length : random.Next(buffer.Length + 1);
                    var status = decapsulator.Decapsulate(buffer, 0, length, frame.OriginalLength, round, out var result, out _);
                    runs++;
                    Assert.True(Enum.IsDefined(status));
                    if (status is DecapStatus.Ok or DecapStatus.PassedThrough)
                    {
                        Assert.InRange(result.Offset, 0, length);
                        Assert.InRange(result.Offset + result.Length, result.Offset, length);
                        Assert.True(result.OriginalLength >= result.Length);
                    }
                }
            }
        }

        Assert.True(runs > 10000);
    }
}
