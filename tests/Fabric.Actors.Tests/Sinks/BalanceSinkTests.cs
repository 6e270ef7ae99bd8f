using System.Buffers.Binary;
using Akka.Configuration;
using Fabric.Configuration;
using Fabric.Actors.DataPlane;
using Fabric.Actors.Pipelines;
using Fabric.Actors.Sinks;
using Fabric.Protocols.Flows;
using Xunit;

namespace Fabric.Actors.Tests.Sinks;

public sealed class BalanceSinkTests
{
    private static Config Load(string pipeline) =>
        ConfigurationFactory.ParseString("fabric.pipelines = [ {\n" + pipeline + "\n} ]").WithFallback(FabricConfig.Reference);

    [Fact]
    public void A_balance_sink_is_read_with_its_members_stages_and_counters()
    {
        var settings = PipelineSettingsReader.Read(Load("""
            name = b
            source { interface = x0 }
            sinks = [
              { type = pcap, directory = "/tmp/p" }
              { type = balance, hash = symmetric-5tuple, members = [ { type = tap, device = mon0 }, { type = pcap, directory = "/tmp/q" }, { type = pcap-over-ip } ] }
            ]
            """)).Single();
        var balance = Assert.IsType<BalanceSinkSettings>(settings.Sinks[1]);
        Assert.Equal("balance-1", balance.Stage);
        Assert.Equal(["tap-mon0", "pcap-1.1", "pcap-over-ip-1.2"], balance.Members.Select(m => m.Stage));
        Assert.Equal(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, 57012), Assert.IsType<PcapOverIpSinkSettings>(balance.Members[2]).Listen);
        var counters = balance.NewCounters();
        Assert.Equal(["tap-mon0", "pcap-1.1", "pcap-over-ip-1.2"], counters.Members.Select(m => m.Stage));
        Assert.Contains("to-tap-mon0", counters.Events);
        Assert.Contains("moved", counters.Events);
        Assert.Equal(3, counters.Snapshot().Members!.Count);
    }

    [Theory]
    [InlineData("{ type = balance, members = [ { type = tap, device = t0 } ] }", "fabric.pipelines[0].sinks[0].members")]
    [InlineData("{ type = balance, hash = outer, members = [ { type = tap, device = t0 }, { type = tap, device = t1 } ] }", "fabric.pipelines[0].sinks[0].hash")]
    [InlineData("{ type = balance, members = [ { type = tap, device = t0 }, { type = tap, device = t0 } ] }", "fabric.pipelines[0].sinks[0].members")]
    [InlineData("{ type = balance, members = [ { type = tap, device = t0 }, { type = tap, device = t1, when-full = drop } ] }", "fabric.pipelines[0].sinks[0].members[1].when-full")]
    [InlineData("{ type = balance, members = [ { type = tap, device = t0, cpu = 0 }, { type = tap, device = t1 } ] }", "fabric.pipelines[0].sinks[0].members[0].cpu")]
    [InlineData("{ type = balance, members = [ { type = tap, device = t0 }, { type = balance, members = [] } ] }", "fabric.pipelines[0].sinks[0].members[1].type")]
    [InlineData("{ type = balance, members = [ { type = tap, device = t0 }, { type = tap, devise = t1 } ] }", "fabric.pipelines[0].sinks[0].members[1].devise")]
    [InlineData("{ type = pcap-over-ip, listen = \"localhost\" }", "fabric.pipelines[0].sinks[0].listen")]
    [InlineData("{ type = pcap-over-ip, listen = \"192.0.2.1:57012\" }", "fabric.pipelines[0].sinks[0].listen")]
    [InlineData("{ type = pcap-over-ip, client-buffer = 1KiB }", "fabric.pipelines[0].sinks[0].client-buffer")]
    [InlineData("{ type = pcap-over-ip, max-clients = 0 }", "fabric.pipelines[0].sinks[0].max-clients")]
    public void Bad_balance_and_pcap_over_ip_sinks_are_refused_with_their_path(string sink, string path)
    {
        var e = Assert.Throws<FabricConfigException>(() => PipelineSettingsReader.Read(Load($"name = a\nsource {{ interface = x0 }}\nsinks = [ {sink} ]")));
        Assert.Equal(path, e.Path);
    }

    [Fact]
    public void Two_members_with_the_same_tap_as_another_sink_are_refused()
    {
        var e = Assert.Throws<FabricConfigException>(() => PipelineSettingsReader.Read(Load("""
            name = a
            source { interface = x0 }
            sinks = [ { type = tap, device = t0 }, { type = balance, members = [ { type = tap, device = t0 }, { type = tap, device = t1 } ] } ]
            """)));
        Assert.Equal("fabric.pipelines[0].sinks", e.Path);
    }

    [Fact]
    public void The_splitter_sends_both_directions_together_spreads_flows_and_moves_only_a_down_members_flows()
    {
        var splitter = new BalanceSplitter([.. new[] { "tap-mon0", "tap-mon1", "tap-mon2" }.Select(BalanceSinkActor.Seed)]);
        const int Flows = 3000;
        var batch = PacketBatch.CreateUnpooled(2 * Flows, 1 << 20);
        for (int f = 0; f < Flows; f++)
        {
            Assert.True(batch.TryAppend(Udp(f, reply: false), 60, f));
            Assert.True(batch.TryAppend(Udp(f, reply: true), 60, f));
        }

        var all = Split(splitter, batch, 0b111, out long movedAll);
        Assert.Equal(0, movedAll);
        Assert.Equal(2 * Flows, all.Sum(v => v.Count));
        for (int f = 0; f < Flows; f++)
        {
            Assert.Equal(all.Single(v => v.Contains(2 * f)), all.Single(v => v.Contains((2 * f) + 1)));
        }

        Assert.All(all, v => Assert.InRange(v.Count, 2 * Flows * 25 / 100, 2 * Flows * 42 / 100));

        var withoutOne = Split(splitter, batch, 0b101, out long moved);
        Assert.Empty(withoutOne[1]);
        Assert.Equal(all[1].Count, moved);
        Assert.Equal(all[0].Count + all[1].Count + all[2].Count, withoutOne[0].Count + withoutOne[2].Count);
        Assert.All(all[0], p => Assert.Contains(p, withoutOne[0]));
        Assert.All(all[2], p => Assert.Contains(p, withoutOne[2]));

        var back = Split(splitter, batch, 0b111, out _);
        Assert.Equal(all, back);
        Assert.Equal(0, batch.References);
    }

    [Fact]
    public void A_view_borrows_the_buffer_holds_the_batch_and_releases_it_with_its_last_owner()
    {
        var pool = new PacketBatchPool(1, 8, 4096);
        var source = pool.TryRent()!;
        Assert.True(source.TryAppend([1, 2, 3], 3, 10));
        Assert.True(source.TryAppend([4, 5], 2, 20));
        source.SourceIds[1] = 3;
        source.Directions[1] = 2;
        source.SwitchTimestamps[1] = 777;
        source.Sources = new Fabric.Protocols.Decap.SourceTable(8);
        source.SetReferences(1);
        var views = new PacketBatchPool(2, 8, 0);
        var view = views.TryRent()!;
        view.Borrow(source);
        view.AppendEntry(source, 1);
        Assert.True(view.IsView);
        Assert.Equal(new byte[] { 4, 5 }, view.Packet(0).ToArray());
        Assert.Equal(20, view.Timestamps[0]);
        // What the decap stage learnt of the frame goes with it to the member (a pcapng or mark-source member).
        Assert.Equal(3, view.SourceIds[0]);
        Assert.Equal(2, view.Directions[0]);
        Assert.Equal(777, view.SwitchTimestamps[0]);
        Assert.Same(source.Sources, view.Sources);
        Assert.False(view.TryAppend([9], 1, 0));
        source.Release();
        Assert.Equal(0, pool.Available);
        view.SetReferences(1);
        view.Release();
        Assert.Equal(1, pool.Available);
        Assert.Equal(2, views.Available);
        Assert.False(view.IsView);
        Assert.Throws<InvalidOperationException>(source.Retain);
    }

    private static List<List<int>> Split(BalanceSplitter splitter, PacketBatch batch, ulong up, out long moved)
    {
        var views = new PacketBatch?[3];
        var bytes = new long[3];
        batch.SetReferences(1);
        moved = splitter.Split(batch, batch.Count, up, views, bytes, source =>
        {
            var view = PacketBatch.CreateUnpooledView(batch.Capacity);
            view.Borrow(source);
            return view;
        });
        var result = new List<List<int>>();
        for (int m = 0; m < 3; m++)
        {
            var members = new List<int>();
            if (views[m] is { } view)
            {
                for (int i = 0; i < view.Count; i++)
                {
                    members.Add((int)view.Timestamps[i] * 2 + (view.Packet(i)[26 + 3] == 2 ? 1 : 0));
                }

                Assert.Equal(members.Count * 60L, bytes[m]);
                view.SetReferences(1);
                view.Release();
            }

            result.Add(members);
        }

        batch.Release();
        return result;
    }

    /// <summary>UDP flow <paramref name="flow"/> between 10.0.0.1 (its port 10000+flow) and 10.0.0.2:53.</summary>
    private static byte[] Udp(int flow, bool reply)
    {
        var frame = new byte[60];
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), 0x0800);
        frame[14] = 0x45;
        frame[14 + 9] = 17;
        byte[] a = [10, 0, (byte)(flow >> 8), 1], b = [10, 0, 0, 2];
        (reply ? b : a).CopyTo(frame, 26);
        (reply ? a : b).CopyTo(frame, 30);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(34), (ushort)(reply ? 53 : 10000 + flow));
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(36), (ushort)(reply ? 10000 + flow : 53));
        return frame;
    }
}
