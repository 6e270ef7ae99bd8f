using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Fabric.System.Tests.Deploy;
using Xunit;
using Xunit.Abstractions;

namespace Fabric.System.Tests.Reliability;

/// <summary>
/// Issue 8, scenario 1: a network partition between real hosts (three fabric-nodes in their own
/// network namespaces behind a bridge, see <see cref="PartitionFixture"/>). The node hosting the
/// mirror-supervisor singleton is cut off (its veth set down in the switch namespace), then the
/// link is healed and the node restarted. All the while the test polls every node's
/// <c>/metrics</c> from inside its namespace and keeps defining mirror sessions through a
/// majority node. Figures go to the test output (lines starting with "partition:"), see
/// docs/reliability-partition.md.
/// </summary>
public sealed class PartitionTests(PartitionFixture fabric, ITestOutputHelper output) : IClassFixture<PartitionFixture>
{
    private const string Running = "fabric_cluster_singleton_running{singleton=\"mirror-supervisor\"}";
    private const string Removed = "fabric_cluster_self_removed";
    private const string Claims = "fabric_cluster_singleton_local{singleton=\"mirror-supervisor\"}";
    private const string UpMembers = "fabric_cluster_members{status=\"up\"}";
    private static readonly string Packets = $"fabric_pipeline_packets_total{{pipeline=\"{PartitionFixture.Pipeline}\",stage=\"pcap-0\",direction=\"out\"}}";
    private static readonly TimeSpan Decision = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Rejoin = TimeSpan.FromMinutes(2);

    [Fact]
    public async Task Cut_off_node_downs_itself_and_keeps_capturing_one_singleton_at_a_time_rejoins_after_restart_no_event_lost_or_duplicated()
    {
        var clock = Stopwatch.StartNew();
        var nodes = fabric.Nodes;

        // The singleton runs on exactly one node before anything happens: that node is cut off.
        PartitionNode? victim = null;
        await Run.UntilAsync(async () =>
        {
            var running = new List<PartitionNode>();
            foreach (var node in nodes)
            {
                if (PartitionNode.Sample(await node.MetricsAsync(), Running) == 1)
                {
                    running.Add(node);
                }
            }

            victim = running.Count == 1 ? running[0] : null;
            return victim is not null;
        }, Decision, () => "the supervisor singleton to run on exactly one node\n" + fabric.Logs());
        var cutOff = victim!;
        var survivors = nodes.Where(n => n != cutOff).ToList();

        using var monitor = new SingletonMonitor(nodes, clock);
        await using var writer = new SessionWriter(survivors[0], fabric.Id);
        await Run.UntilAsync(() => Task.FromResult(writer.Acked.Count >= 3), Decision, () => "3 sessions defined before the cut\n" + writer.Describe() + fabric.Logs());
        var before = JournalRows();

        // ---- cut ----
        var cutAt = clock.Elapsed;
        fabric.SetLink(cutOff.Index, up: false);
        var packetsAtCut = await PacketsAsync(cutOff);
        var sentAtCut = cutOff.Sent;

        await Run.UntilAsync(async () => PartitionNode.Sample(await cutOff.MetricsAsync(), Removed) == 1, Decision,
            () => "the cut-off node to down itself (fabric_cluster_self_removed 1)\n" + fabric.Logs());
        var removedAt = clock.Elapsed;
        var packetsAtRemoval = await PacketsAsync(cutOff);
        foreach (var survivor in survivors)
        {
            await Run.UntilAsync(async () =>
            {
                var up = await survivor.UpMembersAsync();
                return up.Count == 2 && !up.Contains(cutOff.Address);
            }, Decision, () => $"node {survivor.Index} to down the cut-off node (2 Up)\n" + fabric.Logs());
        }

        await Run.UntilAsync(() => Task.FromResult(monitor.FirstRunning(survivors) is not null), Decision,
            () => "the singleton to start on the majority side\n" + monitor.Describe() + fabric.Logs());

        // The minority side: out of the cluster, still running, still capturing.
        await Run.UntilAsync(async () => await PacketsAsync(cutOff) >= packetsAtRemoval + 1000, Decision,
            () => "the cut-off node's pipeline to keep capturing after it was removed\n" + fabric.Logs());
        Assert.False(cutOff.HasExited, "the downed node exited: its capture stopped\n" + cutOff.Tail());
        using (var ready = await cutOff.Management.GetAsync(new Uri("ready", UriKind.Relative)))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        }

        Assert.True((await cutOff.GetJsonAsync("node")).GetProperty("removedFromCluster").GetBoolean());
        Assert.Contains("was removed from the cluster by a downing decision", cutOff.Output, StringComparison.Ordinal);
        Assert.Contains("capture continues; restart the node to rejoin", cutOff.Output, StringComparison.Ordinal);

        // The majority side goes on: sessions are defined through the moved supervisor.
        var ackedAtFailover = writer.Acked.Count;
        await Run.UntilAsync(() => Task.FromResult(writer.Acked.Count >= ackedAtFailover + 3), Decision,
            () => "3 sessions defined after the failover\n" + writer.Describe() + fabric.Logs());
        var packetsAtHeal = await PacketsAsync(cutOff);
        var sentAtHeal = cutOff.Sent;

        // ---- heal, restart the cut-off node: it rejoins ----
        var healAt = clock.Elapsed;
        fabric.SetLink(cutOff.Index, up: true);
        cutOff.Kill();
        var restartAt = clock.Elapsed;
        cutOff.Start();
        foreach (var node in nodes)
        {
            await Run.UntilAsync(async () => (await node.UpMembersAsync()).Count == 3, Rejoin,
                () => $"node {node.Index} to see 3 Up after the restart\n" + fabric.Logs());
        }

        await Run.UntilAsync(async () =>
        {
            using var ready = await cutOff.Management.GetAsync(new Uri("ready", UriKind.Relative));
            return ready.IsSuccessStatusCode;
        }, Rejoin, () => "the restarted node to be ready\n" + fabric.Logs());
        var rejoinedAt = clock.Elapsed;
        var ackedAtRejoin = writer.Acked.Count;
        await Run.UntilAsync(() => Task.FromResult(writer.Acked.Count >= ackedAtRejoin + 2), Decision,
            () => "2 sessions defined after the rejoin\n" + writer.Describe() + fabric.Logs());
        await writer.StopAsync();
        await Run.UntilAsync(async () => PartitionNode.Sample(await cutOff.MetricsAsync(), Packets) > 0, Decision,
            () => "the restarted node to capture again\n" + fabric.Logs());
        monitor.Stop();

        // ---- what must hold ----
        // 1. Never two singletons: no polling round saw it running on two nodes, and it runs on one now.
        Assert.True(monitor.Doubles.Count == 0, "the singleton ran on two nodes at once:\n" + string.Join("\n", monitor.Doubles) + "\n" + monitor.Describe());
        Assert.Equal(1, monitor.LastRound.Count(s => s.Running == 1));
        Assert.True(monitor.FirstRunning(survivors)!.Value > monitor.LastRunning(cutOff)!.Value, "the majority's singleton started before the minority's stopped\n" + monitor.Describe());

        //    Each node's view (fabric_cluster_singleton_local, "the oldest Up member is me") may be
        //    claimed by both sides while the partition is undecided; never once the SBR has decided on both sides.
        var decided = Max(removedAt, monitor.FirstSample(survivors, s => s.UpMembers == 2)!.Value);
        var claimedTwice = monitor.RoundsWhere(round => round.All(s => s.At > decided) && round.Count(s => s.Claims == 1) > 1);
        Assert.True(claimedTwice.Count == 0, "two nodes claimed the singleton after the SBR decided:\n" + string.Join("\n", claimedTwice));
        var claimedTwiceBefore = monitor.RoundsWhere(round => round.Any(s => s.At <= decided) && round.Count(s => s.Claims == 1) > 1).Count;

        // 2. No persisted event lost or duplicated: contiguous sequence numbers per persistence id,
        //    every row from before the cut unchanged, every acknowledged definition journaled once.
        var after = JournalRows();
        foreach (var (persistenceId, rows) in after.GroupBy(r => r.PersistenceId).Select(g => (g.Key, g.Select(r => r.SequenceNr).Order().ToList())))
        {
            Assert.True(rows.SequenceEqual(Enumerable.Range(1, rows.Count).Select(i => (long)i)), $"{persistenceId}: sequence numbers {string.Join(",", rows)}");
        }

        foreach (var row in before)
        {
            Assert.Contains(row, after);
        }

        var history = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var name in writer.Attempted)
        {
            history[name] = await DefinitionsInHistoryAsync(survivors[1], name);
        }

        Assert.All(writer.Acked, name => Assert.Equal(1, history[name]));
        Assert.All(writer.Attempted, name => Assert.InRange(history[name], 0, 1));
        // Hyperion writes the event's type name into the payload (the serializer has no manifest).
        var defined = after.Count(r => r.PersistenceId == "fabric-mirror-supervisor" && r.Defined);
        Assert.Equal(1 + history.Values.Sum(), defined); // fabric.mirrors' lab-mirror once, plus each probe session once

        // ---- figures ----
        var majorityDecision = monitor.FirstSample(survivors, s => s.UpMembers == 2) ?? throw new InvalidOperationException("no majority decision sampled");
        var stopped = monitor.FirstSampleAfter(cutOff, cutAt, s => s.Running == 0);
        var started = monitor.FirstRunning(survivors)!.Value;
        output.WriteLine($"partition: nodes {fabric.Id}, acceptable-heartbeat-pause {PartitionFixture.HeartbeatPause}, victim node {cutOff.Index} ({cutOff.Address}) hosted the singleton");
        output.WriteLine(Fig("cut -> minority downed itself (fabric_cluster_self_removed 1)", removedAt - cutAt));
        output.WriteLine(Fig("cut -> majority downed the cut-off node (2 Up)", majorityDecision - cutAt));
        output.WriteLine(Fig("cut -> singleton stopped on the minority", (stopped ?? removedAt) - cutAt));
        output.WriteLine(Fig("cut -> singleton running on the majority (failover)", started - cutAt));
        output.WriteLine(Fig("singleton gap (stopped on minority -> running on majority)", started - (stopped ?? removedAt)));
        output.WriteLine(Fig("restart of the cut-off node -> 3 Up and ready", rejoinedAt - restartAt));
        output.WriteLine($"partition: minority capture: {packetsAtCut} packets at the cut, {packetsAtRemoval} when it was removed, {packetsAtHeal} at the heal: "
            + $"+{packetsAtHeal - packetsAtCut} written to its PCAP sink during the cut ({(packetsAtHeal - packetsAtCut) / (healAt - cutAt).TotalSeconds:0} packets/s) of {sentAtHeal - sentAtCut} sent");
        output.WriteLine($"partition: polling rounds where two nodes' views claimed the singleton before both sides had decided: {claimedTwiceBefore}, after: 0");
        output.WriteLine($"partition: sessions defined {writer.Acked.Count} acknowledged / {writer.Attempted.Count} attempted; journal rows {before.Count} before the cut, {after.Count} at the end; polling rounds {monitor.Rounds}, never two singletons");
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static string Fig(string what, TimeSpan value) => $"partition: {what}: {value.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s";

    private static async Task<long> PacketsAsync(PartitionNode node) => (long)(PartitionNode.Sample(await node.MetricsAsync(), Packets) ?? 0);

    private static async Task<int> DefinitionsInHistoryAsync(PartitionNode node, string name)
    {
        using var response = await node.Management.GetAsync(new Uri($"mirrors/{name}/history?limit=1000", UriKind.Relative));
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return 0;
        }

        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return body.GetProperty("entries").EnumerateArray().Count(e => e.GetProperty("kind").GetString() == "defined");
    }

    private List<JournalRow> JournalRows() =>
        [.. fabric.Psql(
                "SELECT persistence_id, sequence_nr, md5(payload), position(convert_to('MirrorSessionDefined', 'UTF8') in payload) > 0 "
                + "FROM event_journal ORDER BY persistence_id, sequence_nr",
                fabric.Database)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('|'))
            .Select(f => new JournalRow(f[0], long.Parse(f[1], CultureInfo.InvariantCulture), f[2], f[3] == "t"))];

    /// <summary>A journal row: persistence id, sequence number, payload digest, and whether it is a MirrorSessionDefined event.</summary>
    private sealed record JournalRow(string PersistenceId, long SequenceNr, string PayloadMd5, bool Defined);

    /// <summary>One node's answer in a polling round.</summary>
    private sealed record Sample(int Node, TimeSpan At, double? Running, double? Removed, double? UpMembers, double? Claims);

    /// <summary>
    /// Polls every node's /metrics (from inside its namespace) in rounds, all nodes at once, about
    /// every 100 ms, and keeps what they said; a round where two nodes run the singleton is a double.
    /// </summary>
    private sealed class SingletonMonitor : IDisposable
    {
        private readonly IReadOnlyList<PartitionNode> _nodes;
        private readonly Stopwatch _clock;
        private readonly CancellationTokenSource _stop = new();
        private readonly List<Sample> _samples = [];
        private readonly List<string> _doubles = [];
        private readonly List<IReadOnlyList<Sample>> _rounds = [];
        private readonly Task _polling;
        private IReadOnlyList<Sample> _last = [];
        private int _roundCount;

        public SingletonMonitor(IReadOnlyList<PartitionNode> nodes, Stopwatch clock)
        {
            _nodes = nodes;
            _clock = clock;
            _polling = Task.Run(PollAsync);
        }

        public IReadOnlyList<string> Doubles
        {
            get
            {
                lock (_samples)
                {
                    return [.. _doubles];
                }
            }
        }

        public IReadOnlyList<Sample> LastRound
        {
            get
            {
                lock (_samples)
                {
                    return _last;
                }
            }
        }

        public int Rounds => Volatile.Read(ref _roundCount);

        /// <summary>The rounds (described) for which <paramref name="condition"/> holds.</summary>
        public IReadOnlyList<string> RoundsWhere(Func<IReadOnlyList<Sample>, bool> condition)
        {
            lock (_samples)
            {
                return [.. _rounds.Where(condition).Select(r => string.Join(", ", r.Select(s => $"node {s.Node} at {s.At.TotalSeconds:0.00} s claims {s.Claims} running {s.Running}")))];
            }
        }

        public TimeSpan? FirstRunning(IEnumerable<PartitionNode> nodes) => FirstSample(nodes, s => s.Running == 1);

        public TimeSpan? LastRunning(PartitionNode node)
        {
            lock (_samples)
            {
                return _samples.LastOrDefault(s => s.Node == node.Index && s.Running == 1)?.At;
            }
        }

        /// <summary>The first sample of a node in <paramref name="nodes"/> since the cut that satisfies <paramref name="condition"/>.</summary>
        public TimeSpan? FirstSample(IEnumerable<PartitionNode> nodes, Func<Sample, bool> condition)
        {
            var indexes = nodes.Select(n => n.Index).ToHashSet();
            lock (_samples)
            {
                return _samples.FirstOrDefault(s => indexes.Contains(s.Node) && condition(s))?.At;
            }
        }

        public TimeSpan? FirstSampleAfter(PartitionNode node, TimeSpan after, Func<Sample, bool> condition)
        {
            lock (_samples)
            {
                return _samples.FirstOrDefault(s => s.Node == node.Index && s.At > after && condition(s))?.At;
            }
        }

        public string Describe()
        {
            lock (_samples)
            {
                return "samples (node, s, running, removed, up):\n" + string.Join("\n", _samples.TakeLast(60).Select(s => $"  {s.Node} {s.At.TotalSeconds:0.00} {s.Running} {s.Removed} {s.UpMembers}"));
            }
        }

        public void Stop()
        {
            _stop.Cancel();
            _polling.Wait();
        }

        public void Dispose()
        {
            if (!_stop.IsCancellationRequested)
            {
                Stop();
            }

            _stop.Dispose();
        }

        private async Task PollAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                var round = await Task.WhenAll(_nodes.Select(async node =>
                {
                    var at = _clock.Elapsed;
                    try
                    {
                        var metrics = await node.MetricsAsync();
                        return new Sample(node.Index, at, PartitionNode.Sample(metrics, Running), PartitionNode.Sample(metrics, Removed), PartitionNode.Sample(metrics, UpMembers), PartitionNode.Sample(metrics, Claims));
                    }
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
                    {
                        return new Sample(node.Index, at, null, null, null, null); // restarting: not serving
                    }
                }));
                lock (_samples)
                {
                    _samples.AddRange(round);
                    _rounds.Add(round);
                    _last = round;
                    if (round.Count(s => s.Running == 1) > 1)
                    {
                        _doubles.Add(string.Join(", ", round.Select(s => $"node {s.Node} at {s.At.TotalSeconds:0.00} s running {s.Running}")));
                    }
                }

                Interlocked.Increment(ref _roundCount);
                await Task.Delay(100).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }

    /// <summary>Defines mirror sessions one after another (POST /mirrors with the token) through one node until stopped.</summary>
    private sealed class SessionWriter : IAsyncDisposable
    {
        private readonly PartitionNode _node;
        private readonly string _prefix;
        private readonly CancellationTokenSource _stop = new();
        private readonly List<string> _acked = [];
        private readonly List<string> _attempted = [];
        private readonly List<string> _failures = [];
        private readonly Task _writing;

        public SessionWriter(PartitionNode node, string prefix)
        {
            _node = node;
            _prefix = prefix;
            _writing = Task.Run(WriteAsync);
        }

        public IReadOnlyList<string> Acked
        {
            get
            {
                lock (_acked)
                {
                    return [.. _acked];
                }
            }
        }

        public IReadOnlyList<string> Attempted
        {
            get
            {
                lock (_acked)
                {
                    return [.. _attempted];
                }
            }
        }

        public string Describe()
        {
            lock (_acked)
            {
                return $"sessions acknowledged {_acked.Count} of {_attempted.Count}; last failures: {string.Join(" | ", _failures.TakeLast(5))}\n";
            }
        }

        public async Task StopAsync()
        {
            await _stop.CancelAsync();
            await _writing;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_stop.IsCancellationRequested)
            {
                await StopAsync();
            }

            _stop.Dispose();
        }

        private async Task WriteAsync()
        {
            using var http = _node.Sockets.Http(_node.Management.BaseAddress!, TimeSpan.FromSeconds(15));
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", _node.Token);
            for (var n = 1; !_stop.IsCancellationRequested; n++)
            {
                var name = $"probe-{n:000}";
                lock (_acked)
                {
                    _attempted.Add(name);
                }

                try
                {
                    using var response = await http.PostAsJsonAsync(
                        new Uri("mirrors", UriKind.Relative),
                        new { name, site = "lab", sources = new[] { $"{_prefix}p{n}" }, output = _prefix + "out" });
                    var body = await response.Content.ReadAsStringAsync();
                    lock (_acked)
                    {
                        if (response.IsSuccessStatusCode)
                        {
                            _acked.Add(name);
                        }
                        else
                        {
                            _failures.Add($"{name}: {(int)response.StatusCode} {body}");
                        }
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
                {
                    lock (_acked)
                    {
                        _failures.Add($"{name}: {e.Message}");
                    }
                }

                await Task.Delay(250).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
    }
}
