using System.Globalization;
using System.Text.RegularExpressions;
using Fabric.Protocols.Decap;
using Xunit;

namespace Fabric.Protocols.Tests.Decap;

/// <summary>
/// Must show 2: the ERSPAN metadata Fabric reads from each frame of the tcpdump test captures
/// agrees with what tcpdump 5.0 printed for the same frame (corpus/tcpdump/expected/*.out,
/// produced by `tcpdump -n -r PCAP -v`, see TESTLIST.subset). tcpdump prints the ERSPAN II VLAN
/// as "vlan N" for En=2 (802.1Q) and "isl N" for En=1, nothing for En=0; the T bit as "trunc";
/// ERSPAN III as "bso ..." and "ft ...".
/// </summary>
public partial class ErspanTcpdumpConformanceTests
{
    public static TheoryData<string> Cases => new()
    {
        "erspan-type-i-1", "erspan-type-i-2", "erspan-type-i-3", "erspan-type-i-4",
        "erspan-type-ii-1", "erspan-type-ii-2", "erspan-type-ii-3",
        "erspan-type-iii-ft-0", "erspan-type-iii-ft-7",
    };

    [GeneratedRegex(@"^\s*(\d+)\s+\d{4}-\d\d-\d\d ")]
    private static partial Regex FrameLine();

    [GeneratedRegex(@"erspan type(\d)([^:\[]*)")]
    private static partial Regex ErspanText();

    /// <summary>Frame number to the text tcpdump printed for that frame.</summary>
    private static Dictionary<int, string> ReadTcpdumpOutput(string name)
    {
        var frames = new Dictionary<int, string>();
        var current = -1;
        foreach (var line in File.ReadLines(CorpusCapture.PathOf($"tcpdump/expected/{name}.out")))
        {
            var match = FrameLine().Match(line);
            if (match.Success)
            {
                current = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
                frames[current] = line;
            }
            else if (current > 0)
            {
                frames[current] += "\n" + line;
            }
        }

        return frames;
    }

    private static int? Field(string text, string name)
    {
        var match = Regex.Match(text, @"(?:^| )" + name + @" (\d+)(?: |$)");
        return match.Success ? int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : null;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Erspan_metadata_agrees_with_tcpdump(string name)
    {
        var (_, frames) = CorpusCapture.Read($"tcpdump/{name}.pcap");
        var expected = ReadTcpdumpOutput(name);
        Assert.Equal(frames.Count, expected.Count);
        var decapsulator = new Decapsulator(new DecapOptions());
        var compared = 0;

        foreach (var frame in frames)
        {
            var buffer = (byte[])frame.Data.Clone();
            var status = decapsulator.Decapsulate(buffer, 0, buffer.Length, frame.OriginalLength, frame.TimestampNanoseconds,
                out _, out var md);
            var match = ErspanText().Match(expected[frame.Number]);
            if (!match.Success)
            {
                Assert.Equal(0, md.ErspanType);
                continue;
            }

            compared++;
            var type = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
            var text = match.Groups[2].Value.Trim();
            var where = $"{name} frame {frame.Number}: tcpdump \"{match.Value}\"";
            Assert.True(type == md.ErspanType, where);
            switch (type)
            {
                case 1:
                    Assert.True(status == DecapStatus.Ok, where + " " + status);
                    Assert.Equal(EncapKind.ErspanI, md.Layer(0));
                    break;
                case 2:
                    Assert.True(status == DecapStatus.Ok, where + " " + status);
                    Assert.True(Field(text, "session") == md.ErspanSessionId, where);
                    Assert.True(Field(text, "cos") == md.ErspanCos, where);
                    Assert.True(Field(text, "index") == (int)md.ErspanIndex, where);
                    Assert.True(text.Contains("trunc", StringComparison.Ordinal) == md.ErspanTruncated, where);
                    switch (md.ErspanEn)
                    {
                        case 0:
                            Assert.True(Field(text, "vlan") is null && Field(text, "isl") is null, where);
                            break;
                        case 1:
                            Assert.True(Field(text, "isl") == md.ErspanVlan, where);
                            break;
                        case 2:
                            Assert.True(Field(text, "vlan") == md.ErspanVlan, where);
                            break;
                        default:
                            Assert.Contains("vlan", text, StringComparison.Ordinal);
                            break;
                    }

                    break;
                default:
                    Assert.True(Field(text, "session") == md.ErspanSessionId, where);
                    Assert.True(Field(text, "cos") == md.ErspanCos, where);
                    Assert.True(text.Contains("trunc", StringComparison.Ordinal) == md.ErspanTruncated, where);
                    var bso = Regex.Match(text, @"bso (\S+)").Groups[1].Value;
                    Assert.True(bso switch { "Good/unknown" => 0, "Short" => 1, "Oversized" => 2, "Bad" => 3, _ => -1 } == md.ErspanBso, where);
                    var ft = Regex.Match(text, @"ft (Ethernet|IP|unknown (\d+))").Groups;
                    var frameType = ft[1].Value switch { "Ethernet" => 0, "IP" => 2, _ => int.Parse(ft[2].Value, CultureInfo.InvariantCulture) };
                    Assert.True(frameType == md.ErspanFrameType, where);
                    var expectedStatus = frameType is 0 or 2 ? DecapStatus.Ok : DecapStatus.ErspanFrameTypeUnsupported;
                    Assert.True(status == expectedStatus, where + " " + status);
                    break;
            }
        }

        Assert.True(compared > 0, "no ERSPAN frame in " + name);
    }

    [Fact]
    public void Erspan_iii_cut_inside_its_platform_subheader_is_truncated_where_tcpdump_prints_its_truncation_mark()
    {
        // tcpdump: "erspan type3 session 0 bso Short cos 0 ft Ethernet [|erspan]" — the O bit announces
        // an 8-byte platform subheader the capture does not hold. Raw-IP link type, IPv6 with dstopts.
        var (linkType, frames) = CorpusCapture.Read("tcpdump/erspan-type-iii-pb-1.pcap");
        Assert.Contains("[|erspan]", File.ReadAllText(CorpusCapture.PathOf("tcpdump/expected/erspan-type-iii-pb-1.out")), StringComparison.Ordinal);
        Assert.Equal(CorpusCapture.LinkTypeRaw, linkType);
        var frame = Assert.Single(frames);

        var status = new Decapsulator(new DecapOptions()).Decapsulate(frame.Data, 0, frame.Data.Length, frame.OriginalLength, 0,
            LinkLayer.RawIp, out _, out _);

        Assert.Equal(DecapStatus.Truncated, status);
    }

    [Fact]
    public void Erspan_iii_direction_and_platform_subheader_agree_with_tshark()
    {
        // tshark -r zeek/erspanIII.pcap -T fields -e erspan.spanid -e erspan.vlan -e erspan.hw -e erspan.direction -e erspan.o
        //   frame 1: 0 20 3 0 0;  frame 2: 0 20 3 1 0
        // tshark -r zeek/tunnels_gre-erspan3-dot1q.pcap -T fields -e erspan.spanid -e erspan.direction -e erspan.o -e erspan.vlan -e vlan.id
        //   frame 1: 0 0 1 10 10;  frame 2: 0 1 1 10 10
        var decapsulator = new Decapsulator(new DecapOptions());
        var (_, plain) = CorpusCapture.Read("zeek/erspanIII.pcap");
        var expectedDirections = new byte[] { 0, 1 };
        for (var i = 0; i < 2; i++)
        {
            var data = (byte[])plain[i].Data.Clone();
            Assert.Equal(DecapStatus.Ok, decapsulator.Decapsulate(data, 0, data.Length, plain[i].OriginalLength, 0, out _, out var md));
            Assert.Equal(expectedDirections[i], md.ErspanDirection);
            Assert.Equal(20, md.ErspanVlan);
            Assert.Equal(3, md.ErspanHardwareId);
        }

        var (_, withSubheader) = CorpusCapture.Read("zeek/tunnels_gre-erspan3-dot1q.pcap");
        for (var i = 0; i < 2; i++)
        {
            var data = (byte[])withSubheader[i].Data.Clone();
            Assert.Equal(DecapStatus.Ok, decapsulator.Decapsulate(data, 0, data.Length, withSubheader[i].OriginalLength, 0, out var result, out var md));
            Assert.Equal(expectedDirections[i], md.ErspanDirection);
            Assert.Equal(10, md.ErspanVlan);
            Assert.Equal(DecapStatus.Ok, EthernetHeader.TryRead(data.AsSpan(result.Offset, result.Length), out var inner));
            Assert.Equal(10, inner.FirstVlanId);
        }
    }
}
