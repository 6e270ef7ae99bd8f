using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Fabric.System.Tests.DataPlane;
using Xunit;
using Xunit.Abstractions;

namespace Fabric.System.Tests.Reliability;

/// <summary>
/// Issue 8, scenarios 3 (disk full under the PCAP sink) and 4 (slow or absent consumers), against a real
/// fabric-node with live traffic from a kernel VXLAN device in a namespace. Needs root. The figures each test
/// prints (resume times, RSS) are the ones in docs/reliability-sinks.md.
/// </summary>
[Collection(SinkFaultCollection.Name)]
public sealed class SinkFaultTests(SinkFaultFixture f, ITestOutputHelper output)
{
    private const int DiskRate = 2000;
    private const int SlowRate = 5000;
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    /// <summary>How long the forwarder's collector stays unreachable: 20 s in CI; longer runs for the figures in
    /// docs/reliability-sinks.md set FABRIC_SINKFAULT_STALL_SECONDS.</summary>
    private static readonly TimeSpan StallDuration = TimeSpan.FromSeconds(
        int.TryParse(Environment.GetEnvironmentVariable("FABRIC_SINKFAULT_STALL_SECONDS"), CultureInfo.InvariantCulture, out int seconds) && seconds > 0 ? seconds : 20);

    /// <summary>RSS may grow by at most this much while a sink is stalled: the batch pools of both pipelines
    /// (allocated at start; their pages count once first used) plus 16 MiB for everything else (GC heap, the
    /// management routes answering the test). Unbounded queueing at 5000 frames/s of ~650 bytes would add about
    /// 3 MiB/s.</summary>
    private const long RssBoundKiB = (2 * SinkFaultFixture.PoolBytesPerPipeline / 1024) + (16 * 1024);

    [Fact]
    public async Task Full_disk_under_a_pcap_sink_is_counted_as_disk_full_the_other_sink_gets_everything_and_writing_resumes_by_itself()
    {
        string ballast = Path.Combine(f.FullDisk, "ballast.bin");
        await File.WriteAllBytesAsync(ballast, new byte[1 << 20]);
        TimeSpan afterDelete, afterGrow;
        using (f.StartSender(f.DiskInnerPeer, DiskRate))
        {
            // The 2 MiB file system fills: the sink stalls, counts disk-full, the pipeline keeps running.
            var stalled = await WaitForAsync("disk", s => s["pcap-0"].Dropped["disk-full"] > 1000, "pcap-0 counts disk-full drops");
            Assert.Equal("running", stalled.State);
            Assert.True(f.NodeAlive);
            Assert.Equal(1, stalled["pcap-0"].Events["stalls"]);
            Assert.Equal(0, stalled["pcap-0"].Dropped["write-error"]);

            // Retention (keep-size 64 KiB) never removes the file being written, though it is larger.
            var current = Assert.Single(Directory.GetFiles(f.FullDisk, "disk-*.pcap"));
            Assert.True(new FileInfo(current).Length > 64 * 1024, $"{current}: {new FileInfo(current).Length} bytes");
            Assert.Equal(0, stalled["pcap-0"].Events["files-removed"]);

            // The other sink, on the normal disk, keeps up: it has dropped nothing and has what decap delivered.
            Assert.Equal(0, stalled["pcap-1"].DroppedTotal);
            Assert.Equal(0, stalled["capture"].DroppedTotal);

            // Space returns (a file deleted): writing resumes by itself, in the same file.
            long outBefore = (await f.StatsAsync("disk"))["pcap-0"].Out;
            var clock = Stopwatch.StartNew();
            File.Delete(ballast);
            await WaitForAsync("disk", s => s["pcap-0"].Out > outBefore, "pcap-0 writes again after the ballast is deleted");
            afterDelete = clock.Elapsed;
            Assert.Equal(current, Assert.Single(Directory.GetFiles(f.FullDisk, "disk-*.pcap")));

            // It fills again (rotate-size 4 MiB is more than the file system); then the file system grows.
            await WaitForAsync("disk", s => s["pcap-0"].Events["stalls"] == 2, "pcap-0 stalls a second time");
            outBefore = (await f.StatsAsync("disk"))["pcap-0"].Out;
            clock.Restart();
            Shell.Run("mount", $"-o remount,size=16m {f.FullDisk}");
            await WaitForAsync("disk", s => s["pcap-0"].Out > outBefore, "pcap-0 writes again after the file system grew");
            afterGrow = clock.Elapsed;

            // At 4 MiB it rotates; retention removes the older file, never the new current one.
            await WaitForAsync("disk", s => s["pcap-0"].Events["files-removed"] >= 1, "retention removes the full file after rotation");
            Assert.NotEmpty(Directory.GetFiles(f.FullDisk, "disk-*.pcap"));
            Assert.False(File.Exists(current));
        }

        var final = await SettledAsync("disk");
        output.WriteLine($"disk: resume after a file was deleted {afterDelete.TotalMilliseconds:F0} ms, after the file system grew {afterGrow.TotalMilliseconds:F0} ms");
        foreach (var stage in final.Stages.Values)
        {
            output.WriteLine(stage.Describe());
        }

        Assert.Equal("running", final.State);
        Assert.True(final.Balanced);
        Assert.Equal(0, final["capture"].DroppedTotal);
        Assert.Equal(0, final["decap"].DroppedTotal);
        long delivered = final["decap"].Out;
        Assert.Equal(delivered, final["pcap-1"].In);
        Assert.Equal(delivered, final["pcap-1"].Out);
        Assert.Equal(delivered, final["pcap-0"].In);
        long diskFull = final["pcap-0"].Dropped["disk-full"];
        Assert.Equal(delivered, final["pcap-0"].Out + diskFull);
        Assert.Equal(0, final["pcap-0"].DroppedTotal - diskFull);
        // It retries every 250 ms; 3 s leaves room for a busy machine.
        Assert.True(afterDelete < TimeSpan.FromSeconds(3), $"resumed after {afterDelete}");
        Assert.True(afterGrow < TimeSpan.FromSeconds(3), $"resumed after {afterGrow}");

        // The same figure in /metrics and in `fabric pipelines stats --json`.
        Assert.Contains($"fabric_pipeline_dropped_packets_total{{pipeline=\"disk\",stage=\"pcap-0\",reason=\"disk-full\"}} {diskFull}\n", await f.MetricsAsync(), StringComparison.Ordinal);
        var console = JsonDocument.Parse(f.Console("pipelines", "stats", "disk", "--json", "--interval", "0.2")).RootElement;
        var pcap0 = console.GetProperty("pipelines")[0].GetProperty("stages").EnumerateArray().Single(s => s.GetProperty("stage").GetString() == "pcap-0");
        Assert.Equal(diskFull, pcap0.GetProperty("dropped").GetProperty("disk-full").GetProperty("packets").GetInt64());

        // Stopped (files closed): every file is readable, none ends inside a record; the other sink has everything.
        using (var http = f.Http())
        {
            Assert.Equal(HttpStatusCode.OK, (await http.PostAsync(new Uri("pipelines/disk/stop", UriKind.Relative), null)).StatusCode);
        }

        await WaitForAsync("disk", s => s.State == "stopped", "disk stopped");
        long onFullDisk = 0;
        foreach (var file in Directory.GetFiles(f.FullDisk, "disk-*.pcap"))
        {
            onFullDisk += ReadableFrames(file);
        }

        long onNormalDisk = Directory.GetFiles(f.NormalDisk, "disk-*.pcap").Sum(ReadableFrames);
        Assert.Equal(delivered, onNormalDisk);
        Assert.InRange(onFullDisk, 1, final["pcap-0"].Out);
    }

    [Fact]
    public async Task Stalled_tap_reader_and_unreachable_forwarder_drop_only_at_the_forwarder_the_capture_never_waits_and_memory_stays_bounded()
    {
        f.MoveTapToReaderNamespace(txQueueLength: 16);
        using var reader = f.StartStalledReader();
        var before = new List<long>();
        var during = new List<long>();
        var after = new List<long>();
        var captureDuringStall = new List<long>();
        long unreachableBeforeStall, unreachableAfterStall;
        using (f.StartTapFlood(1000))
        using (f.StartSender(f.SlowInnerPeer, SlowRate))
        {
            // The collector was unreachable when the node started: the forwarder counts and the pipeline runs.
            var absent = await WaitForAsync("slow", s => s["forward-1"].Dropped["unreachable"] > 0, "forward-1 counts unreachable");
            Assert.Equal("running", absent.State);
            Assert.Equal(0, absent["forward-1"].Out);

            f.SetCollectorReachable(reachable: true);
            await WaitForAsync("slow", s => s["forward-1"].Out > 0, "forward-1 connects once the collector is reachable");
            await SampleRssAsync(before, TimeSpan.FromSeconds(4));

            // The stall: the collector unreachable for a while, the TAP's reader still not reading.
            f.SetCollectorReachable(reachable: false);
            unreachableBeforeStall = (await f.StatsAsync("slow"))["forward-1"].Dropped["unreachable"];
            var clock = Stopwatch.StartNew();
            var nextCounter = TimeSpan.Zero;
            while (clock.Elapsed < StallDuration)
            {
                during.Add(f.NodeRssKiB());
                if (clock.Elapsed >= nextCounter)
                {
                    captureDuringStall.Add((await f.StatsAsync("slow"))["capture"].In);
                    nextCounter += TimeSpan.FromSeconds(1);
                }

                await Task.Delay(250);
            }

            unreachableAfterStall = (await f.StatsAsync("slow"))["forward-1"].Dropped["unreachable"];
            f.SetCollectorReachable(reachable: true);
            long outAfterStall = (await f.StatsAsync("slow"))["forward-1"].Out;
            await WaitForAsync("slow", s => s["forward-1"].Out > outAfterStall, "forward-1 sends again");
            await SampleRssAsync(after, TimeSpan.FromSeconds(4));
        }

        var final = await SettledAsync("slow");
        string readerStats = reader.Finish().Trim().Split('\n')[^1];
        long readerDrops = long.Parse(readerStats.Split(' ')[1], CultureInfo.InvariantCulture);
        long tapTxDropped = SinkFaultFixture.LinkCounter(f.ReaderNamespace, f.Tap, "tx_dropped");
        long collectorReceived = SinkFaultFixture.LinkCounter(f.CollectorNamespace, f.CollectorVeth, "rx_packets");
        string tap = $"tap-{f.Tap}";
        output.WriteLine($"slow: RSS KiB before {Median(before)} (max {before.Max()}), during {Median(during)} (max {during.Max()}), after {Median(after)} (max {after.Max()})");
        output.WriteLine($"slow: stalled reader (packets, drops) {readerStats}; TAP tx_dropped {tapTxDropped}; collector rx_packets {collectorReceived}; unreachable during the stall {unreachableAfterStall - unreachableBeforeStall}");
        foreach (var stage in final.Stages.Values)
        {
            output.WriteLine(stage.Describe());
        }

        Assert.Equal("running", final.State);
        Assert.True(final.Balanced);
        Assert.True(f.NodeAlive);

        // Drops at the forwarder only, under its named reason; the TAP, decap and capture drop nothing.
        Assert.Equal(0, final["capture"].DroppedTotal);
        Assert.Equal(0, final["decap"].DroppedTotal);
        long delivered = final["decap"].Out;
        Assert.Equal(delivered, final[tap].In);
        Assert.Equal(delivered, final[tap].Out);
        long unreachable = final["forward-1"].Dropped["unreachable"];
        Assert.True(unreachableAfterStall - unreachableBeforeStall > SlowRate * StallDuration.TotalSeconds / 4,
            $"unreachable during the stall: {unreachableAfterStall - unreachableBeforeStall}");
        Assert.Equal(unreachable, final["forward-1"].DroppedTotal);
        Assert.Equal(delivered, final["forward-1"].Out + unreachable);
        Assert.True(collectorReceived > 0);

        // The consumers really stalled: the kernel dropped at the TAP's reader and in the TAP's own queue.
        Assert.True(readerDrops > 0, readerStats);
        Assert.True(tapTxDropped > 0, $"tx_dropped {tapTxDropped}");

        // The capture thread never waited: its counter advanced in each third of the stall, by at least a quarter
        // of what was offered over the whole stall (a shared, busy machine slows the sender and the node alike;
        // per-second samples are in the message), and it dropped nothing (above).
        string samples = string.Join(", ", captureDuringStall);
        int n = captureDuringStall.Count;
        Assert.True(n >= 6, $"{n} samples");
        long[] thirds = [captureDuringStall[0], captureDuringStall[n / 3], captureDuringStall[2 * n / 3], captureDuringStall[n - 1]];
        for (int i = 1; i < thirds.Length; i++)
        {
            Assert.True(thirds[i] > thirds[i - 1], $"capture counter did not advance in third {i} of the stall: {samples}");
        }

        Assert.True(thirds[^1] - thirds[0] > SlowRate * StallDuration.TotalSeconds / 4, $"capture during the stall: {samples}");

        // Memory stays bounded.
        Assert.True(during.Max() - Median(before) < RssBoundKiB, $"RSS before {Median(before)} KiB, max during the stall {during.Max()} KiB");
    }

    private async Task<PipelineView> WaitForAsync(string pipeline, Func<PipelineView, bool> condition, string what)
    {
        PipelineView? last = null;
        await SinkFaultFixture.UntilAsync(async () =>
        {
            Assert.True(f.NodeAlive, $"fabric-node exited:\n{f.Output}");
            last = await f.StatsAsync(pipeline);
            return condition(last);
        }, Timeout, () => $"{what}; last stats:\n{string.Join("\n", last?.Stages.Values.Select(s => s.Describe()) ?? [])}\n{f.Output}");
        return last!;
    }

    /// <summary>Stats once nothing moves any more (the sender stopped): the same captured count in five polls
    /// in a row (about half a second), with every stage balanced.</summary>
    private async Task<PipelineView> SettledAsync(string pipeline)
    {
        long previous = -1;
        int same = 0;
        return await WaitForAsync(pipeline, s =>
        {
            same = s.Captured == previous && s.Balanced ? same + 1 : 0;
            previous = s.Captured;
            return same >= 5;
        }, $"{pipeline} settles");
    }

    private async Task SampleRssAsync(List<long> samples, TimeSpan duration)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < duration)
        {
            samples.Add(f.NodeRssKiB());
            await Task.Delay(250);
        }
    }

    private static long Median(List<long> values)
    {
        var sorted = values.Order().ToList();
        return sorted[sorted.Count / 2];
    }

    /// <summary>Frames in a capture file, after checking that tshark and tcpdump both read it to its end.</summary>
    private static long ReadableFrames(string file)
    {
        var tshark = Run("tshark", "-r", file, "-T", "fields", "-e", "frame.number");
        Assert.True(tshark.Exit == 0 && tshark.Error.Length == 0, $"tshark -r {file}: exit {tshark.Exit}: {tshark.Error}");
        var tcpdump = Run("tcpdump", "-n", "-q", "-r", file);
        Assert.True(tcpdump.Exit == 0 && !tcpdump.Error.Contains("truncated", StringComparison.OrdinalIgnoreCase), $"tcpdump -r {file}: exit {tcpdump.Exit}: {tcpdump.Error}");
        long frames = tshark.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        Assert.Equal(frames, tcpdump.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        return frames;
    }

    private static (int Exit, string Output, string Error) Run(string file, params string[] arguments)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        string stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        // tcpdump names the file it reads on stderr, tshark warns when run as root; neither is a problem.
        string error = string.Join('\n', stderr.Split('\n').Where(l => l.Length > 0
            && !l.StartsWith("reading from file", StringComparison.Ordinal)
            && !l.StartsWith("Running as user \"root\"", StringComparison.Ordinal)));
        return (process.ExitCode, stdout.Result, error);
    }
}
