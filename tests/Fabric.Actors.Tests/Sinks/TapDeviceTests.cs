using Fabric.Actors.Sinks;
using Xunit;

namespace Fabric.Actors.Tests.Sinks;

/// <summary>Real TAP devices (needs root and /dev/net/tun).</summary>
public class TapDeviceTests
{
    private static readonly byte[] Frame =
    [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x88, 0xB5,
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46,
    ];

    [Fact]
    public void Open_creates_a_persistent_up_device_with_mtu_and_no_ipv6_and_write_reaches_the_kernel()
    {
        string name = "fdt" + Random.Shared.Next(0x100000, 0xFFFFFF).ToString("x", System.Globalization.CultureInfo.InvariantCulture);
        try
        {
            using (var tap = TapDevice.Open(name, 9000))
            {
                Assert.Equal("9000", File.ReadAllText($"/sys/class/net/{name}/mtu").Trim());
                Assert.Equal("1", File.ReadAllText($"/proc/sys/net/ipv6/conf/{name}/disable_ipv6").Trim());
                int flags = Convert.ToInt32(File.ReadAllText($"/sys/class/net/{name}/flags").Trim(), 16);
                Assert.Equal(1, flags & 1);
                long before = long.Parse(File.ReadAllText($"/sys/class/net/{name}/statistics/rx_packets"), System.Globalization.CultureInfo.InvariantCulture);
                Assert.Equal(0, tap.Write(Frame));
                long after = long.Parse(File.ReadAllText($"/sys/class/net/{name}/statistics/rx_packets"), System.Globalization.CultureInfo.InvariantCulture);
                Assert.Equal(before + 1, after);
            }

            Assert.True(Directory.Exists($"/sys/class/net/{name}"), "persistent device survives close");
        }
        finally
        {
            Ip.Run($"link del {name}");
        }
    }

    [Fact]
    public void Write_after_the_device_was_deleted_reports_it_gone()
    {
        string name = "fdt" + Random.Shared.Next(0x100000, 0xFFFFFF).ToString("x", System.Globalization.CultureInfo.InvariantCulture);
        try
        {
            using var tap = TapDevice.Open(name, 1500);
            Ip.Run($"link del {name}");
            int errno = tap.Write(Frame);
            Assert.True(TapDevice.IsDeviceGone(errno), $"errno {errno}");
        }
        finally
        {
            Ip.Run($"link del {name}");
        }
    }

    [Fact]
    public void A_name_longer_than_15_characters_is_refused()
    {
        Assert.Throws<TapDeviceException>(() => TapDevice.Open("fd-much-too-long-name", 1500));
    }
}
