using System.Globalization;
using Fabric.Actors.DataPlane;
using Fabric.Actors.Native;
using Fabric.Actors.Sinks;
using Fabric.Tests;
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

    /// <summary>Issue 16: a batch written through the io_uring reaches the kernel whole and in order, across
    /// several submissions (more frames than <see cref="WriteRing.Entries"/>): tcpdump on the device reads back exactly
    /// the frames written, byte for byte, and the device's rx counters match.</summary>
    [Fact]
    public void A_batch_through_the_io_uring_reaches_the_tap_whole_and_in_order()
    {
        string name = NewName();
        string directory = Directory.CreateTempSubdirectory("fd-ring-").FullName;
        string capture = Path.Combine(directory, "tap.pcap");
        CapturedProcess? tcpdump = null;
        using var ring = WriteRing.TryCreate(out int ringErrno) ?? throw new InvalidOperationException($"no io_uring: errno {ringErrno}");
        try
        {
            using var tap = TapDevice.Open(name, 9000);
            tcpdump = CapturedProcess.Start("tcpdump", ["-i", name, "-n", "-U", "-s", "0", "-w", capture]);
            Wait.Until(() => tcpdump.Stderr.Contains("listening on", StringComparison.Ordinal), TimeSpan.FromSeconds(20), () => "tcpdump listening: " + tcpdump.Stderr);
            var batch = Frames(700, out long bytes);
            long rxPackets = Counter(name, "rx_packets"), rxBytes = Counter(name, "rx_bytes");
            var errnos = new int[batch.Count];

            int settled = tap.WriteBatch(ring, batch, 0, batch.Count, errnos, out int failed);

            Assert.Equal(0, failed);
            Assert.Equal(batch.Count, settled);
            Assert.All(errnos, e => Assert.Equal(0, e));
            Assert.Equal(rxPackets + batch.Count, Counter(name, "rx_packets"));
            Assert.Equal(rxBytes + bytes, Counter(name, "rx_bytes"));
            Wait.Until(() => SafeCount(capture) >= batch.Count, TimeSpan.FromSeconds(20), () => $"tcpdump wrote {SafeCount(capture)} frames");
            tcpdump.Kill();
            tcpdump.WaitForExit(TimeSpan.FromSeconds(10));
            var read = Pipelines.PipelineFileTests.ReadFrames(capture);
            Assert.Equal(batch.Count, read.Count);
            for (int i = 0; i < batch.Count; i++)
            {
                Assert.True(batch.Packet(i).SequenceEqual(read[i]), $"frame {i} differs or is out of order");
            }
        }
        finally
        {
            tcpdump?.Kill();
            tcpdump?.Dispose();
            Ip.Run($"link del {name}");
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>Every frame's own result comes back from the ring: a frame the kernel refuses (shorter than an
    /// Ethernet header: EINVAL) is reported for that frame alone, and a deleted device for every frame.</summary>
    [Fact]
    public void The_io_uring_reports_each_frames_own_error()
    {
        string name = NewName();
        using var ring = WriteRing.TryCreate(out int ringErrno) ?? throw new InvalidOperationException($"no io_uring: errno {ringErrno}");
        try
        {
            using var tap = TapDevice.Open(name, 9000);
            var batch = PacketBatch.CreateUnpooled(600, 600 * 64);
            for (int i = 0; i < 600; i++)
            {
                Assert.True(batch.TryAppend(i == 300 ? Frame.AsSpan(0, 10) : Frame, Frame.Length, i));
            }

            long rxPackets = Counter(name, "rx_packets");
            var errnos = new int[600];
            Assert.Equal(600, tap.WriteBatch(ring, batch, 0, 600, errnos, out int failed));
            Assert.Equal(0, failed);
            Assert.Equal(Libc.EINVAL, errnos[300]);
            Assert.Equal(599, errnos.Count(e => e == 0));
            Assert.Equal(rxPackets + 599, Counter(name, "rx_packets"));

            Ip.Run($"link del {name}");
            Array.Fill(errnos, -1);
            Assert.Equal(600, tap.WriteBatch(ring, batch, 0, 600, errnos, out failed));
            Assert.Equal(0, failed);
            Assert.All(errnos, e => Assert.True(TapDevice.IsDeviceGone(e), $"errno {e}"));
        }
        finally
        {
            Ip.Run($"link del {name}");
        }
    }

    /// <summary>Frames of lengths 60..1459, each carrying its own index, in one pinned batch.</summary>
    private static PacketBatch Frames(int count, out long bytes)
    {
        var batch = PacketBatch.CreateUnpooled(count, count * 1500);
        bytes = 0;
        for (int i = 0; i < count; i++)
        {
            var frame = new byte[60 + (i * 37 % 1400)];
            Frame.AsSpan(0, 14).CopyTo(frame);
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(14), i);
            for (int k = 18; k < frame.Length; k++)
            {
                frame[k] = (byte)(i + k);
            }

            Assert.True(batch.TryAppend(frame, frame.Length, i));
            bytes += frame.Length;
        }

        return batch;
    }

    private static string NewName() => "fdt" + Random.Shared.Next(0x100000, 0xFFFFFF).ToString("x", CultureInfo.InvariantCulture);

    private static long Counter(string device, string name) =>
        long.Parse(File.ReadAllText($"/sys/class/net/{device}/statistics/{name}"), CultureInfo.InvariantCulture);

    private static int SafeCount(string path)
    {
        try
        {
            return File.Exists(path) ? Pipelines.PipelineFileTests.ReadFrames(path).Count : 0;
        }
        catch (Fabric.Protocols.Pcap.CaptureFileException)
        {
            return 0; // tcpdump has not written the file header yet
        }
    }

    [Fact]
    public void A_name_longer_than_15_characters_is_refused()
    {
        Assert.Throws<TapDeviceException>(() => TapDevice.Open("fd-much-too-long-name", 1500));
    }
}
