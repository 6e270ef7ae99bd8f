using Fabric.Actors.DataPlane;
using Xunit;

namespace Fabric.Actors.Tests.DataPlane;

public class BpfFilterTests
{
    // Ethernet + IPv4 + UDP 1000 -> 2000 (hand-built).
    private static readonly byte[] Udp =
    [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00,
        0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        0x03, 0xE8, 0x07, 0xD0, 0, 8, 0, 0,
    ];

    [Fact]
    public void Libpcap_compiled_filter_matches_inner_frames()
    {
        using var udp = BpfFilter.Compile("udp dst port 2000");
        using var tcp = BpfFilter.Compile("tcp");
        Assert.True(udp.Matches(Udp, Udp.Length));
        Assert.False(tcp.Matches(Udp, Udp.Length));
    }

    [Fact]
    public void A_bad_expression_is_refused_with_libpcaps_message()
    {
        var e = Assert.Throws<FormatException>(() => BpfFilter.Compile("tcp and and"));
        Assert.Contains("syntax error", e.Message, StringComparison.Ordinal);
        Assert.NotNull(BpfFilter.Check("bogus!!"));
        Assert.Null(BpfFilter.Check("tcp or udp"));
    }
}
