using System.Globalization;
using Fabric.Protocols.Decap;
using Fabric.Protocols.Pcap;
using Fabric.Protocols.Tests.Pcap;

namespace Fabric.Protocols.Tests.Conformance;

/// <summary>
/// Must show 1: on every capture of the shared corpus (real traffic written by tcpdump's, Zeek's,
/// Suricata's, Arkime's, PacketDotNet's and nDPI's test suites), Fabric decapsulates the frames that
/// tshark dissects as tunnel packets, and each inner frame Fabric writes has, in tshark's own
/// dissection of Fabric's output, the protocol stack that tshark showed inside the tunnel of the
/// original packet. Where the two legitimately differ, <see cref="Exceptions"/> says so and why.
/// </summary>
public sealed class TsharkConformanceTests : IDisposable
{
    /// <summary>
    /// tshark decodes the same UDP ports as Fabric's default <c>fabric.decap</c>: VXLAN on the
    /// Linux-kernel port 8472 too (tshark 4.0 does not by default; Fabric's default includes it).
    /// </summary>
    private static readonly string[] TsharkPortParity = ["-d", "udp.port==8472,vxlan"];

    /// <summary>
    /// Frames where Fabric, by design, does not do what tshark's dissection suggests. Frame is the
    /// 1-based frame number in the input (0 = every frame of the file). Fabric is the inner stack
    /// Fabric writes (tshark's reading of Fabric's output), or "-" when Fabric writes no frame.
    /// Each row must still be needed: a row whose Fabric value equals the tshark-derived one fails the test.
    /// </summary>
    public static readonly IReadOnlyList<ConformanceException> Exceptions =
    [
        new("tcpdump/bigtcp-ipv4-vxlan-ipv4.pcap", 1, "eth:ip:tcp:data",
            "BIG TCP: outer IPv4 total length 0 (GSO super-frame over 64 KiB); tshark calls it malformed and stops at UDP, "
            + "Fabric takes the length from the capture and decapsulates, as tcpdump does"),
        new("tcpdump/bigtcp-ipv6-geneve-ipv4.pcap", 1, "eth:ip:tcp:data",
            "BIG TCP: outer IPv6 payload length 0 (jumbo); tshark stops at UDP, Fabric takes the length from the capture"),
        new("zeek/tunnels_geneve-arp.pcap", 1, "-",
            "Geneve protocol 0x0806 (ARP with no Ethernet header): Fabric emits Ethernet frames and decodes only 0x6558, "
            + "0x0800 and 0x86DD; the packet is counted as geneve-protocol-unsupported"),
        new("zeek/tunnels_geneve-truncated.pcapng", 1, "-",
            "the capture ends right after the Geneve options (58 of 156 bytes): not one byte of the inner frame; tshark "
            + "lists an empty eth layer, Fabric counts the packet as truncated"),
        new("tcpdump/wccp_redirect_gre.pcap", 1, "-",
            "GRE protocol 0x883E (WCCP redirect header, web-cache redirection, not a mirror tunnel): counted as "
            + "gre-protocol-unsupported; tshark shows the redirected IP packet"),
        new("arkime/arkime_synthetic.pcap", 618, "eth:data",
            "synthetic VXLAN-GPE with the P bit clear but next protocol 1: draft-ietf-nvo3-vxlan-gpe says a clear P bit "
            + "means a VXLAN (Ethernet) payload, so Fabric emits the payload as Ethernet; tshark follows the next-protocol field"),
        new("arkime/arkime_synthetic.pcap", 623, "-",
            "synthetic Geneve reply from UDP port 6081 to 12345: Fabric recognises tunnels by destination port only "
            + "(RFC 8926 3.3: the source port is flow entropy), tshark by either port"),
    ];

    private readonly string _directory = Directory.CreateTempSubdirectory("fq-conformance-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Theory]
    [MemberData(nameof(CaptureCorpus.CaptureNames), MemberType = typeof(CaptureCorpus))]
    public void Inner_frames_agree_with_tshark(string name)
    {
        var input = CaptureCorpus.PathOf(name);
        var output = Path.Combine(_directory, "inner.pcap");

        // tshark's view of the input: per frame, the stack inside the innermost tunnel (or none).
        var tsharkInput = Tshark(input);
        var expected = new SortedDictionary<int, string>();
        for (var i = 0; i < tsharkInput.Length; i++)
        {
            if (InnerStack(tsharkInput[i]) is { } inner)
            {
                expected[i + 1] = inner;
            }
        }

        // Fabric: decapsulate every frame, write the inner frames, remember which input frame each came from.
        var sources = Decapsulate(input, output);
        var actual = new SortedDictionary<int, string>();
        if (sources.Count > 0)
        {
            var tsharkOutput = Tshark(output);
            Assert.Equal(sources.Count, tsharkOutput.Length);
            for (var i = 0; i < sources.Count; i++)
            {
                actual[sources[i]] = Normalize(tsharkOutput[i]);
            }
        }

        // Apply the exceptions, each of which must change something.
        foreach (var exception in Exceptions.Where(e => e.File == name))
        {
            var frames = exception.Frame == 0 ? Enumerable.Range(1, tsharkInput.Length) : [exception.Frame];
            var changed = false;
            foreach (var frame in frames)
            {
                var before = expected.GetValueOrDefault(frame, "-");
                if (exception.Fabric == "-")
                {
                    expected.Remove(frame);
                }
                else
                {
                    expected[frame] = exception.Fabric;
                }

                changed |= before != exception.Fabric;
            }

            Assert.True(changed, $"exception row for {name} frame {exception.Frame} is not needed: tshark already agrees");
        }

        Assert.Equal(Describe(expected), Describe(actual));
    }

    private static List<int> Decapsulate(string input, string output)
    {
        var sources = new List<int>();
        var decapsulator = new Decapsulator(new DecapOptions());
        var scratch = new byte[CaptureFileReader.DefaultMaxRecordLength];
        using var reader = CaptureFileReader.Open(input);
        using var writer = PcapWriter.Create(output, LinkTypes.Ethernet, nanoseconds: true);
        var frame = 0;
        while (reader.ReadNext(out var record) == CaptureReadStatus.Packet)
        {
            frame++;
            var link = record.LinkType == LinkTypes.Ethernet ? LinkLayer.Ethernet : LinkLayer.RawIp;
            record.Data.CopyTo(scratch);
            var status = decapsulator.Decapsulate(
                scratch, 0, record.CapturedLength, Math.Max(record.OriginalLength, record.CapturedLength),
                record.TimestampNs, link, out var result, out _);
            if (!DecapStatusInfo.Emits(status))
            {
                continue;
            }

            var inner = DecapStatusInfo.InReassemblyBuffer(status)
                ? decapsulator.ReassembledFrame
                : scratch.AsSpan(result.Offset, result.Length);
            writer.Write(inner, record.TimestampNs, result.OriginalLength);
            sources.Add(frame);
        }

        return sources;
    }

    /// <summary>
    /// The part of a tshark stack inside the innermost tunnel Fabric decapsulates by default, with an
    /// Ethernet header in front when the payload is IP (Fabric synthesizes one); null when the frame
    /// is not a tunnel packet or nothing decodable is inside.
    /// </summary>
    internal static string? InnerStack(string protocols)
    {
        var tokens = Tokens(protocols);
        var boundary = -1;
        for (var i = 0; i < tokens.Count - 1; i++)
        {
            var token = tokens[i];
            if (!Walked.Contains(token))
            {
                // Fabric does not look inside MPLS, PPPoE, VN-Tag, ICMP errors...: no tunnel beyond here.
                break;
            }

            var next = tokens[i + 1];
            var tunnel = token switch
            {
                "erspan" or "vxlan" or "geneve" => true,
                "gre" => next is "eth" or "ip" or "ipv6",
                "ip" or "ipv6" => next is "ip" or "ipv6",
                _ => false,
            };
            if (tunnel)
            {
                boundary = i;
            }
        }

        if (boundary < 0)
        {
            return null;
        }

        var inner = tokens.Skip(boundary + 1).ToList();
        if (inner.Count == 0 || inner[0] is "data")
        {
            return null;
        }

        if (inner[0] is "ip" or "ipv6")
        {
            inner.Insert(0, "eth");
        }

        return string.Join(':', inner);
    }

    /// <summary>Layers the decapsulator walks through on its way to a tunnel.</summary>
    private static readonly HashSet<string> Walked =
        new(["raw", "eth", "vlan", "ip", "ipv6", "udp", "gre", "erspan", "vxlan", "geneve"], StringComparer.Ordinal);

    /// <summary>A stack without the tokens that carry no protocol (ethertype, IPv6 extension headers).</summary>
    private static string Normalize(string protocols) => string.Join(':', Tokens(protocols));

    private static List<string> Tokens(string protocols) =>
        protocols.Trim().Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Where(t => t != "ethertype" && !t.StartsWith("ipv6.", StringComparison.Ordinal))
            .ToList();

    private static string[] Tshark(string path)
    {
        var result = ExternalTool.Run("tshark", ["-r", path, .. TsharkPortParity, "-T", "fields", "-e", "frame.protocols"]);
        Assert.True(result.ExitCode == 0, result.Stderr);
        return result.Stdout.Split('\n')[..^1];
    }

    private static string[] Describe(SortedDictionary<int, string> frames) =>
        frames.Select(kv => string.Create(CultureInfo.InvariantCulture, $"frame {kv.Key}: {kv.Value}")).ToArray();
}

/// <summary>One legitimate difference between Fabric and tshark, with its reason.</summary>
/// <param name="File">Corpus path as in INDEX.tsv.</param>
/// <param name="Frame">1-based input frame number, 0 for every frame of the file.</param>
/// <param name="Fabric">The inner stack Fabric writes, or "-" for no frame.</param>
/// <param name="Reason">Why Fabric and tshark differ here.</param>
public sealed record ConformanceException(string File, int Frame, string Fabric, string Reason);
