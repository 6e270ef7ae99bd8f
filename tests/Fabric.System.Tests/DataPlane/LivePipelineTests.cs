using Akka.Actor;
using Fabric.Actors.Pipelines;
using Xunit;

namespace Fabric.System.Tests.DataPlane;

/// <summary>
/// Live pipelines over real kernel parts: a kernel VXLAN device as an independent encapsulator, tcpreplay of
/// corpus captures, tcpdump on the TAP as an independent consumer, a kernel VXLAN device as the collector of a
/// forwarder. Every test also checks the conservation law. Needs root.
/// </summary>
[Collection(DataPlaneCollection.Name)]
public sealed class LivePipelineTests(DataPlaneFixture net)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);

    [Fact]
    public void Kernel_vxlan_traffic_comes_out_of_the_tap_byte_for_byte_and_the_capture_thread_is_pinned()
    {
        string tap = net.NewTapName();
        var manager = net.StartPipeline($$"""
            name = kernel-vxlan
            source { interface = {{net.CaptureInterface}} }
            capture-cpu = 1
            sinks = [ { type = tap, device = {{tap}} } ]
            """);
        try
        {
            var ready = WaitReady(manager, tap);

            // Must show 8: the capture thread runs only on the configured core.
            string status = File.ReadAllText($"/proc/{Environment.ProcessId}/task/{ready.Source.CaptureThreadId}/status");
            string allowed = status.Split('\n').Single(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal));
            Assert.Equal("1", allowed["Cpus_allowed_list:".Length..].Trim());

            string sentFile = Path.Combine(net.Directory, $"{tap}-sent.pcap");
            string tapFile = Path.Combine(net.Directory, $"{tap}-out.pcap");
            using (var sent = new Tcpdump(net.SenderVxlan, sentFile, net.SenderNamespace))
            using (var output = new Tcpdump(tap, tapFile))
            {
                net.SendInner(60, 64, 700, 1300);
                Shell.WaitUntil(() => Frames.Read(sentFile).Count == 60, Timeout, () => $"sent {Frames.Read(sentFile).Count}");
                Shell.WaitUntil(() => Frames.Read(tapFile).Count >= 60, Timeout,
                    () => $"tap has {Frames.Read(tapFile).Count}; {Describe(DataPlaneFixture.Stats(manager))}");
                sent.Stop();
                output.Stop();
            }

            var expected = Frames.Read(sentFile);
            var actual = Frames.Read(tapFile);
            Assert.Equal(60, expected.Count);
            Assert.Equal(expected.Count, actual.Count);
            for (int i = 0; i < expected.Count; i++)
            {
                Assert.Equal(expected[i], actual[i]);
            }

            // libpcap's own counters (published every 0.5 s) account for every packet too:
            // received by the socket = dropped in the kernel ring + handed to the capture stage.
            Shell.WaitUntil(() => DataPlaneFixture.Stats(manager) is var s && s.Source.KernelReceived == s.Source.KernelDropped + s.Captured,
                Timeout, () => Describe(DataPlaneFixture.Stats(manager)) + $" libpcap received {DataPlaneFixture.Stats(manager).Source.KernelReceived}");
            var stats = DataPlaneFixture.Stats(manager);
            AssertConserved(stats);
            Assert.Equal(60, stats.Stages[2].Out.Packets);
            Assert.Equal(0, stats.Source.KernelDropped);
        }
        finally
        {
            net.Stop(manager);
        }
    }

    [Theory]
    [InlineData("tcpdump/erspan-type-i-1.pcap")]
    [InlineData("tcpdump/erspan-type-ii-2.pcap")]
    [InlineData("tcpdump/erspan-type-ii-3.pcap")]
    [InlineData("tcpdump/erspan-type-iii-ft-0.pcap")]
    [InlineData("zeek/erspanIII.pcap")]
    [InlineData("zeek/tunnels_gre-sample.pcap")]
    [InlineData("zeek/erspan.pcap")]
    [InlineData("tcpdump/geneve.pcap")]
    [InlineData("zeek/tunnels_geneve.pcap")]
    public void Replayed_corpus_capture_comes_out_of_the_tap_as_fabric_decap_makes_it(string capture)
    {
        string source = TestPaths.Corpus(capture);
        var expected = FabricDecap(source);
        Assert.NotEmpty(expected);
        int total = Frames.Read(source).Count;
        string tap = net.NewTapName();
        var manager = net.StartPipeline($$"""
            name = replay
            source { interface = {{net.CaptureInterface}} }
            sinks = [ { type = tap, device = {{tap}} } ]
            """);
        try
        {
            WaitReady(manager, tap);
            string tapFile = Path.Combine(net.Directory, $"{tap}-replay.pcap");
            using (var output = new Tcpdump(tap, tapFile))
            {
                Shell.InNamespace(net.SenderNamespace, $"tcpreplay -q --topspeed -i {net.SenderVeth} {source}");
                Shell.WaitUntil(() => DataPlaneFixture.Stats(manager).Captured >= total, Timeout, () => Describe(DataPlaneFixture.Stats(manager)));
                Shell.WaitUntil(() => Frames.Read(tapFile).Count >= expected.Count, Timeout,
                    () => $"tap has {Frames.Read(tapFile).Count} of {expected.Count}; {Describe(DataPlaneFixture.Stats(manager))}");
                output.Stop();
            }

            var actual = Frames.Read(tapFile);
            Assert.Equal(expected.Count, actual.Count);
            for (int i = 0; i < expected.Count; i++)
            {
                Assert.Equal(expected[i], actual[i]);
            }

            var stats = DataPlaneFixture.Stats(manager);
            Assert.Equal(total, stats.Captured);
            AssertConserved(stats);
        }
        finally
        {
            net.Stop(manager);
        }
    }

    /// <summary>The inner frames `fabric decap` (the published console, NativeAOT) writes for <paramref name="source"/>.</summary>
    private List<byte[]> FabricDecap(string source)
    {
        string output = Path.Combine(net.Directory, Path.GetFileNameWithoutExtension(source) + "-fabric-decap.pcap");
        var run = Deploy.Run.Process(TestPaths.PublishedConsole, TimeSpan.FromSeconds(60), ["decap", source, output]);
        Assert.True(run.ExitCode == 0, run.ToString());
        return Frames.Read(output);
    }

    [Fact]
    public void Deleted_interface_and_tap_come_back_and_the_gap_is_counted()
    {
        string tap = net.NewTapName();
        var manager = net.StartPipeline($$"""
            name = flaky
            source { interface = {{net.CaptureInterface}} }
            sinks = [ { type = tap, device = {{tap}} } ]
            """);
        try
        {
            WaitReady(manager, tap);
            net.SendInner(10);
            Shell.WaitUntil(() => DataPlaneFixture.Stats(manager).Stages[2].Out.Packets == 10, Timeout, () => Describe(DataPlaneFixture.Stats(manager)));

            // The interface disappears (as a VM's tap does when the VM restarts) and comes back.
            net.DeleteSenderLinks();
            Shell.WaitUntil(() => DataPlaneFixture.Stats(manager).Source.Outages == 1, Timeout, () => Describe(DataPlaneFixture.Stats(manager)));
            Assert.False(DataPlaneFixture.Stats(manager).Source.Up);
            net.CreateSenderLinks();
            Shell.WaitUntil(() => DataPlaneFixture.Stats(manager).Source is { Up: true, Opens: 2 }, Timeout, () => Describe(DataPlaneFixture.Stats(manager)));
            net.SendInner(10);
            Shell.WaitUntil(() => DataPlaneFixture.Stats(manager).Stages[2].Out.Packets == 20, Timeout, () => Describe(DataPlaneFixture.Stats(manager)));

            // The TAP is deleted under the sink: it is re-created and output resumes.
            Shell.Ip($"link del {tap}");
            net.SendInner(10);
            Shell.WaitUntil(() => DataPlaneFixture.Stats(manager).Stages[2].Out.Packets == 30, Timeout, () => Describe(DataPlaneFixture.Stats(manager)));
            Assert.True(Directory.Exists($"/sys/class/net/{tap}"));

            var stats = DataPlaneFixture.Stats(manager);
            Assert.Equal(1, stats.Stages[2].Events["recreated"]);
            Assert.Equal(1, stats.Source.Outages);
            Assert.Equal(2, stats.Source.Opens);
            AssertConserved(stats);
        }
        finally
        {
            net.Stop(manager);
        }
    }

    [Fact]
    public void Forwarded_vxlan_comes_out_of_a_kernel_vxlan_device_unchanged()
    {
        string source = TestPaths.Corpus("zeek/tunnels_vxlan-encapsulated-http.pcap");
        var expected = Frames.Decapsulate(source);
        string received = Path.Combine(net.Directory, "collector.pcap");
        using var collector = new Tcpdump(net.CollectorVxlan, received, net.CollectorNamespace);
        var manager = net.StartPipeline($$"""
            name = forward
            source { file = "{{source}}" }
            sinks = [ { type = forward, encapsulation = vxlan, destination = "{{net.CollectorAddress}}:4789", vni = {{DataPlaneFixture.CollectorVni}}, mtu = 1500, oversize = fragment } ]
            """);
        try
        {
            Shell.WaitUntil(() => Frames.Read(received).Count >= expected.Count, Timeout,
                () => $"collector has {Frames.Read(received).Count} of {expected.Count}; {Describe(DataPlaneFixture.Stats(manager))}");
            collector.Stop();
            var actual = Frames.Read(received);
            Assert.Equal(expected.Count, actual.Count);
            for (int i = 0; i < expected.Count; i++)
            {
                Assert.Equal(expected[i], actual[i]);
            }

            var stats = DataPlaneFixture.Stats(manager);
            AssertConserved(stats);
            Assert.Equal(expected.Count, stats.Stages[2].Out.Packets);
            Assert.Equal(expected.Count(f => f.Length > 1500 - 20 - 8 - 8), stats.Stages[2].Events["fragmented"]);
            Assert.True(stats.Stages[2].Events["fragmented"] > 0);
        }
        finally
        {
            net.Stop(manager);
        }
    }

    private static PipelineStats WaitReady(IActorRef manager, string tap)
    {
        Shell.WaitUntil(() => DataPlaneFixture.Stats(manager).Source.Up && Directory.Exists($"/sys/class/net/{tap}"), Timeout,
            () => Describe(DataPlaneFixture.Stats(manager)));
        return DataPlaneFixture.Stats(manager);
    }

    private static void AssertConserved(PipelineStats stats)
    {
        Assert.True(stats.Balanced, Describe(stats));
        long upstreamDrops = stats.Stages[0].DroppedPackets + stats.Stages[1].DroppedPackets;
        foreach (var sink in stats.Stages.Skip(2))
        {
            Assert.Equal(stats.Captured, sink.Out.Packets + sink.DroppedPackets + upstreamDrops);
        }
    }

    private static string Describe(PipelineStats stats) =>
        $"{stats.State} source up={stats.Source.Up} opens={stats.Source.Opens} outages={stats.Source.Outages} error={stats.Source.LastError}; "
        + string.Join("; ", stats.Stages.Select(s => $"{s.Stage}: in {s.In.Packets} out {s.Out.Packets} "
            + string.Join(",", s.Dropped.Where(d => d.Value.Packets > 0).Select(d => $"{d.Key}={d.Value.Packets}"))));
}
