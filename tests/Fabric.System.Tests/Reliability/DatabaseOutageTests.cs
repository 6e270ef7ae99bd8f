using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Fabric.Actors.Tests.Mirrors.Sandbox;
using Fabric.System.Tests.Mirrors;
using Xunit;
using Xunit.Abstractions;

namespace Fabric.System.Tests.Reliability;

/// <summary>
/// Issue 8 scenario 2, database outage: a real fabric-node (roles capture, supervisor and
/// site-pve-a) journaling to its own PostgreSQL 15 (<see cref="PrivatePostgres"/>), a mirror on
/// real Open vSwitch (the OVS sandbox) and a live capture pipeline with traffic. PostgreSQL is
/// stopped for 60 s while the mirror is broken again and again (VM NIC restarts the Proxmox way,
/// the sensor's NIC restarted, the mirror row deleted) and commands are issued, then started again.
/// </summary>
[Collection(OvsSandboxCollection.Name)]
public sealed partial class DatabaseOutageTests(OvsSandbox ovs, ITestOutputHelper output) : IDisposable
{
    private const string Mirror = "outage-mirror";
    private static readonly TimeSpan Outage = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private readonly PrivatePostgres _postgres = new();
    private readonly List<NodeProcess> _nodes = [];
    private readonly string _pcapRoot = Path.Combine(Path.GetTempPath(), "fps-pcap-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly global::System.Net.Sockets.UdpClient _udp = new(new IPEndPoint(IPAddress.Loopback, 0));

    /// <summary>The traffic's source port (ours alone: the pipeline's filter selects it).</summary>
    private int SourcePort => ((IPEndPoint)_udp.Client.LocalEndPoint!).Port;

    private string Config(string directoryTag) => $$"""
        akka.cluster.roles = [capture, supervisor, site-pve-a]
        fabric.persistence { provider = postgresql, postgresql.connection-string = "{{_postgres.ConnectionString}}" }
        fabric.sites = [ { name = pve-a, backend = ovs, ovsdb = "{{ovs.Endpoint}}" } ]
        fabric.mirrors = [ { name = {{Mirror}}, site = pve-a, bridge = {{ovs.Bridge}}, sources = ["vm:101/net1", "vm:101/net6"], output = "vm:103/net1" } ]
        fabric.mirror-agent.report-interval = 500ms
        fabric.pipelines = [
          { name = loop, source = { interface = lo, filter = "udp src port {{SourcePort}} and udp dst port 4789" }, sinks = [ { type = pcap, directory = "{{Path.Combine(_pcapRoot, directoryTag)}}" } ] }
        ]
        """;

    private NodeProcess StartNode(string tag)
    {
        var node = new NodeProcess(Config(tag)).Start();
        _nodes.Add(node);
        return node;
    }

    private string Logs() => string.Join("\n----\n", _nodes.Select(n => n.Output.Length > 8000 ? n.Output[^8000..] : n.Output)) + "\n---- postgres:\n" + _postgres.LogTail();

    private Task WaitForAsync(Func<Task<bool>> condition, TimeSpan timeout, string what) =>
        global::Fabric.Tests.Wait.UntilAsync(condition, timeout, () => $"{what}\n{Logs()}");

    private void WaitForOvs(Func<bool> condition, string what) =>
        global::Fabric.Tests.Wait.Until(condition, Wait, () => $"{what}\n{ovs.Diagnostics()}\n{Logs()}", TimeSpan.FromMilliseconds(10));

    private static async Task<JsonElement?> JsonAsync(NodeProcess node, params string[] args)
    {
        var (code, stdout, _) = await node.FabricAsync([.. args, "--json"]);
        return code == 0 ? JsonDocument.Parse(stdout).RootElement.Clone() : null;
    }

    private static async Task<JsonElement?> JournalAsync(NodeProcess node) =>
        await JsonAsync(node, "mirrors", "list") is { } list ? list.GetProperty("journal") : null;

    /// <summary>The repairs of the mirror in its history (detected-at, trigger, what was missing), oldest first.</summary>
    private static async Task<List<(DateTimeOffset At, string Trigger, string Missing)>?> RepairsAsync(NodeProcess node) =>
        await JsonAsync(node, "mirrors", "history", Mirror, "--limit", "1000") is { } history
            ? [.. history.GetProperty("entries").EnumerateArray().Where(e => e.GetProperty("kind").GetString() == "repair")
                .Select(e => e.GetProperty("repair"))
                .Select(r => (r.GetProperty("detectedAt").GetDateTimeOffset(), r.GetProperty("trigger").GetString()!, r.GetProperty("missing").GetString()!))]
            : null;

    private static double Sample(string metrics, Regex series) =>
        series.Matches(metrics).Sum(m => double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture));

    private static async Task<string> MetricsAsync(NodeProcess node)
    {
        using var http = node.Http();
        return await http.GetStringAsync("metrics");
    }

    /// <summary>Breaks the mirror one of three ways and waits until the agent has repaired it.</summary>
    private void BreakAndWaitForRepair(int round)
    {
        switch (round % 3)
        {
            case 0:
                ovs.RestartVmNic("tap101i1"); // source VM restarted the Proxmox way
                WaitForOvs(() => ovs.MirrorHolds(Mirror, "select_src_port", "tap101i1"), $"round {round}: tap101i1 selected again");
                break;
            case 1:
                ovs.RestartVmNic("tap103i1"); // sensor VM restarted: the output port
                WaitForOvs(() => ovs.MirrorHolds(Mirror, "output_port", "tap103i1"), $"round {round}: output tap103i1 again");
                break;
            default:
                ovs.Vsctl("--", "--id=@m", "get", "Mirror", Mirror, "--", "remove", "Bridge", ovs.Bridge, "mirrors", "@m"); // row deleted
                WaitForOvs(() => ovs.MirrorHolds(Mirror, "output_port", "tap103i1") && ovs.MirrorHolds(Mirror, "select_src_port", "tap101i6"), $"round {round}: mirror row back");
                break;
        }
    }

    [Fact]
    public async Task Postgresql_stopped_for_60_s_mirrors_keep_being_repaired_and_the_supervisor_recovers_by_itself_with_a_complete_audit_trail()
    {
        var wall = Stopwatch.StartNew();
        ovs.Reset();
        var node = StartNode("a");
        await node.WaitReadyAsync(TimeSpan.FromSeconds(120));
        await WaitForAsync(async () => await JournalAsync(node) is { } j && j.GetProperty("available").GetBoolean(), Wait, "supervisor recovered from PostgreSQL");
        WaitForOvs(() => ovs.MirrorHolds(Mirror, "output_port", "tap103i1") && ovs.MirrorHolds(Mirror, "select_src_port", "tap101i1"), "mirror applied");

        // Live VXLAN traffic (200 packets/s) through capture -> decap -> pcap for the whole test.
        using var traffic = new CancellationTokenSource();
        long sent = 0;
        var vxlan = VxlanPayload();
        var sender = Task.Run(async () =>
        {
            var target = new IPEndPoint(IPAddress.Loopback, 4789);
            while (!traffic.IsCancellationRequested)
            {
                for (var i = 0; i < 20; i++)
                {
                    _udp.Send(vxlan, vxlan.Length, target);
                    Interlocked.Increment(ref sent);
                }

                await Task.Delay(100);
            }
        });

        try
        {
            await WaitForAsync(async () => Sample(await MetricsAsync(node), CaptureIn()) > 0, Wait, "the loop pipeline captures");
            var metricsBefore = await MetricsAsync(node);
            var dropsBefore = Sample(metricsBefore, LoopDrops());
            var capturedBefore = Sample(metricsBefore, CaptureIn());
            var failuresBefore = Sample(metricsBefore, PersistFailures());

            // ---- PostgreSQL stopped ----
            var outage = Stopwatch.StartNew();
            var stoppedAt = DateTimeOffset.UtcNow;
            _postgres.Stop();
            var rounds = 0;
            BreakAndWaitForRepair(rounds++);

            // The supervisor notices at its next write (the repair above) and says so.
            await WaitForAsync(async () => await JournalAsync(node) is { } j && !j.GetProperty("available").GetBoolean(), Wait, "journal reported unavailable");
            var (listCode, listText, _) = await node.FabricAsync("mirrors", "list");
            Assert.Equal(0, listCode);
            Assert.Contains("journal: UNAVAILABLE since", listText, StringComparison.Ordinal);
            var during = await MetricsAsync(node);
            Assert.True(Sample(during, PersistFailures()) > failuresBefore, "fabric_persistence_failures_total{actor=\"mirror-supervisor\",kind=\"persist\"} did not grow:\n" + during);
            Assert.Matches(@"fabric_persistence_journal_available\{actor=""mirror-supervisor""\} 0\n", during);

            // Commands that need the journal are refused (console and HTTP), nothing changes.
            var (addCode, _, addError) = await node.FabricAsync("mirrors", "add", "outage-extra", "--site", "pve-a", "--bridge", ovs.Bridge,
                "--source", "vm:101/net6", "--output", "vm:103/net1");
            Assert.Equal(1, addCode);
            Assert.Contains("refused, the supervisor's journal is unavailable", addError, StringComparison.Ordinal);
            Assert.Contains("nothing was changed", addError, StringComparison.Ordinal);
            using (var http = node.Http())
            {
                using var removed = await http.DeleteAsync("mirrors/" + Mirror);
                Assert.Equal(HttpStatusCode.ServiceUnavailable, removed.StatusCode);
                Assert.Contains("nothing was changed", await removed.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            }

            Assert.Equal([Mirror], (await JsonAsync(node, "mirrors", "list"))!.Value.GetProperty("sessions").EnumerateArray().Select(s => s.GetProperty("name").GetString()));

            // The agent keeps repairing the last assignment for the rest of the outage.
            while (outage.Elapsed < Outage - TimeSpan.FromSeconds(4))
            {
                BreakAndWaitForRepair(rounds++);
                await Task.Delay(2000);
            }

            var keptDuring = (await RepairsAsync(node))!.Where(r => r.At >= stoppedAt).ToList();
            var keptAt = DateTimeOffset.UtcNow;
            Assert.True(keptDuring.Count >= rounds, $"{keptDuring.Count} repairs kept for {rounds} breaks:\n{string.Join("\n", keptDuring)}");
            var pendingAtEnd = (await JournalAsync(node))!.Value.GetProperty("pending").GetInt32();
            while (outage.Elapsed < Outage)
            {
                await Task.Delay(100);
            }

            // ---- PostgreSQL back: no manual action ----
            _postgres.Start();
            var back = Stopwatch.StartNew();
            await WaitForAsync(async () => await JournalAsync(node) is { } j && j.GetProperty("available").GetBoolean() && j.GetProperty("pending").GetInt32() == 0,
                TimeSpan.FromSeconds(60), "supervisor recovered and journaled what it kept");
            var recovery = back.Elapsed;

            // Commands work again.
            var (code, _, error) = await node.FabricAsync("mirrors", "add", "outage-extra", "--site", "pve-a", "--bridge", ovs.Bridge,
                "--source", "vm:101/net6", "--output", "vm:103/net1");
            Assert.True(code == 0, error);
            (code, _, error) = await node.FabricAsync("mirrors", "remove", "outage-extra");
            Assert.True(code == 0, error);

            // The pipeline did not notice: no drops, and it kept capturing throughout.
            var metricsAfter = await MetricsAsync(node);
            Assert.Equal(dropsBefore, Sample(metricsAfter, LoopDrops()));
            Assert.True(Sample(metricsAfter, CaptureIn()) > capturedBefore, "the loop pipeline stopped capturing");
            traffic.Cancel();
            await sender;

            // The audit trail: a new node reads the journal from PostgreSQL; every repair of the outage is there once, in order.
            node.KillHard();
            var second = StartNode("b");
            await second.WaitReadyAsync(TimeSpan.FromSeconds(120));
            await WaitForAsync(async () => await JournalAsync(second) is { } j && j.GetProperty("available").GetBoolean(), Wait, "second node's supervisor recovered");
            var journaled = (await RepairsAsync(second))!.Where(r => r.At >= stoppedAt && r.At <= keptAt).ToList();
            Assert.Equal(keptDuring, journaled); // every repair the supervisor kept in memory during the outage, once, in order

            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"outage {Outage.TotalSeconds:0} s: {rounds} breaks, {keptDuring.Count} repairs kept in memory ({pendingAtEnd} events pending at the end), {journaled.Count} in the journal after recovery; " +
                $"PostgreSQL accepting again -> supervisor journal available with nothing pending: {recovery.TotalSeconds:0.0} s; " +
                $"datagrams sent {Interlocked.Read(ref sent)}, loop pipeline drops before {dropsBefore} after {Sample(metricsAfter, LoopDrops())}; " +
                $"test wall time {wall.Elapsed.TotalSeconds:0} s") + "\n" +
                string.Join("\n", metricsAfter.Split('\n').Where(l => l.StartsWith("fabric_persistence_", StringComparison.Ordinal))));
        }
        finally
        {
            await traffic.CancelAsync();
            await sender;
        }
    }

    /// <summary>
    /// A VXLAN datagram's payload (RFC 7348: flags 0x08 = VNI valid, VNI 4242) carrying an inner
    /// Ethernet frame of the local experimental EtherType 0x88b5 with 100 bytes of payload.
    /// </summary>
    private static byte[] VxlanPayload()
    {
        var bytes = new byte[8 + 14 + 100];
        bytes[0] = 0x08;
        bytes[4] = 0x00;
        bytes[5] = 0x10;
        bytes[6] = 0x92; // VNI 0x001092 = 4242
        byte[] dst = [0x02, 0x00, 0x00, 0x00, 0x00, 0x01];
        byte[] src = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02];
        dst.CopyTo(bytes, 8);
        src.CopyTo(bytes, 14);
        bytes[20] = 0x88;
        bytes[21] = 0xb5;
        return bytes;
    }

    [GeneratedRegex(@"^fabric_pipeline_dropped_packets_total\{pipeline=""loop""[^}]*\} (?<value>\S+)$", RegexOptions.Multiline)]
    private static partial Regex LoopDrops();

    /// <summary>Packets the loop pipeline's pcap sink wrote (after capture and decap).</summary>
    [GeneratedRegex(@"^fabric_pipeline_packets_total\{pipeline=""loop"",stage=""pcap-0"",direction=""out""\} (?<value>\S+)$", RegexOptions.Multiline)]
    private static partial Regex CaptureIn();

    [GeneratedRegex(@"^fabric_persistence_failures_total\{actor=""mirror-supervisor"",kind=""persist""\} (?<value>\S+)$", RegexOptions.Multiline)]
    private static partial Regex PersistFailures();

    public void Dispose()
    {
        foreach (var node in _nodes)
        {
            node.Dispose();
        }

        _postgres.Dispose();
        _udp.Dispose();
        if (Directory.Exists(_pcapRoot))
        {
            Directory.Delete(_pcapRoot, recursive: true);
        }
    }
}
