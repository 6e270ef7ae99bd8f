using System.Diagnostics;
using System.Text.Json;
using Fabric.Actors.Tests.Mirrors.Sandbox;
using Xunit;
using Xunit.Abstractions;

namespace Fabric.System.Tests.Mirrors;

/// <summary>
/// "Must show" 4: three fabric-nodes (each may host the supervisor and act for site pve-a) sharing
/// a PostgreSQL journal; kill -9 of the node hosting the singletons: they move, the supervisor's
/// state is recovered from PostgreSQL, and a VM restart after that is still repaired.
/// </summary>
[Collection(OvsSandboxCollection.Name)]
public sealed class MirrorClusterTests(OvsSandbox ovs, ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(120);
    private readonly string _database = "fm_" + Guid.NewGuid().ToString("N")[..10];
    private readonly List<NodeProcess> _nodes = [];

    private static void Psql(string sql)
    {
        var psi = new ProcessStartInfo("psql") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-h", "127.0.0.1", "-U", "fabric", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", sql })
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["PGPASSWORD"] = "fabric";
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"psql {sql}: {err}");
    }

    private static Task WaitForAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, Func<string> diagnostics) =>
        global::Fabric.Tests.Wait.UntilAsync(condition, timeout, () => $"{what}\n{diagnostics()}");

    private static async Task<int> UpCountAsync(NodeProcess node) =>
        await node.TryGetJsonAsync("cluster/members") is { } view
            ? view.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("status").GetString() == "Up")
            : 0;

    /// <summary>Waits for an OVS condition; on timeout the message carries the nodes' logs.</summary>
    private void WaitForOvs(Func<bool> condition, string what) =>
        global::Fabric.Tests.Wait.Until(condition, Wait, () => $"{what}\n{ovs.Diagnostics()}\n{Logs()}", TimeSpan.FromMilliseconds(20));

    private static async Task<List<string>?> HistoryAsync(NodeProcess node)
    {
        var (code, stdout, _) = await node.FabricAsync("mirrors", "history", "cluster-mirror", "--json");
        return code == 0 ? [.. JsonDocument.Parse(stdout).RootElement.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("text").GetString()!)] : null;
    }

    private string Logs() => string.Join("\n----\n", _nodes.Select(n => n.Output.Length > 6000 ? n.Output[^6000..] : n.Output));

    [Fact]
    public async Task Kill_9_of_the_singleton_node_state_recovered_from_postgresql_and_repairs_continue()
    {
        ovs.Reset();
        Psql($"CREATE DATABASE {_database}");
        var ports = Enumerable.Range(0, 3).Select(_ => NodeProcess.FreePort()).ToArray();
        var config = $$"""
            akka.cluster.roles = [supervisor, site-pve-a]
            fabric.sites = [ { name = pve-a, backend = ovs, ovsdb = "{{ovs.Endpoint}}" } ]
            fabric.mirror-agent.report-interval = 500ms
            fabric.cluster.discovery { method = config, required-contact-points = 3, stable-margin = 1s }
            akka.discovery.config.services.fabric.endpoints = [{{string.Join(", ", ports.Select(p => $"\"127.0.0.1:{p}\""))}}]
            fabric.persistence { provider = postgresql, postgresql.connection-string = "Host=127.0.0.1;Port=5432;Database={{_database}};Username=fabric;Password=fabric" }
            """;

        foreach (var port in ports)
        {
            _nodes.Add(new NodeProcess(config, managementPort: port).Start());
        }

        foreach (var node in _nodes)
        {
            await WaitForAsync(async () => await UpCountAsync(node) == 3, Wait, "3 Up members", Logs);
            await WaitForAsync(async () => (await node.FabricAsync("mirrors", "list")).Code == 0, Wait, "mirror supervision reachable", Logs);
        }

        var (code, _, stderr) = await _nodes[1].FabricAsync("mirrors", "add", "cluster-mirror", "--site", "pve-a", "--bridge", ovs.Bridge,
            "--source", "vm:101/net1", "--source", "vm:101/net6", "--output", "vm:103/net1");
        Assert.True(code == 0, stderr);
        WaitForOvs(() => ovs.MirrorHolds("cluster-mirror", "output_port", "tap103i1"), "cluster-mirror applied");
        ovs.RestartVmNic("tap101i6");
        WaitForOvs(() => ovs.MirrorHolds("cluster-mirror", "select_src_port", "tap101i6"), "repair before the failover");
        await WaitForAsync(async () => await HistoryAsync(_nodes[1]) is { } h && h.Any(t => t.Contains("source tap101i6 not selected", StringComparison.Ordinal)),
            Wait, "repair before the failover journaled", Logs);

        // The singletons live on the oldest member (every node has both roles).
        var members = (await _nodes[0].TryGetJsonAsync("cluster/members"))!.Value;
        var oldest = members.GetProperty("oldest").GetString();
        var victim = _nodes.Single(n => n.Address == oldest);
        var survivor = _nodes.First(n => n != victim);

        var killedAt = Stopwatch.StartNew();
        victim.KillHard();
        ovs.RestartVmNic("tap101i1");
        WaitForOvs(() => ovs.MirrorHolds("cluster-mirror", "select_src_port", "tap101i1"), "repair after the failover");
        output.WriteLine($"kill -9 of {victim.Address} to the first repair after it: {killedAt.Elapsed.TotalSeconds:0.0} s");

        // The moved supervisor knows the whole story from PostgreSQL: the definition and the repairs before the kill.
        var last = "";
        await WaitForAsync(async () =>
        {
            var (c, stdout, err) = await survivor.FabricAsync("mirrors", "history", "cluster-mirror", "--json");
            if (c != 0)
            {
                last = err;
                return false;
            }

            var entries = JsonDocument.Parse(stdout).RootElement.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("text").GetString()!).ToList();
            last = string.Join("\n", entries);
            return entries.Any(t => t.StartsWith("defined (console)", StringComparison.Ordinal))
                && entries.Any(t => t.Contains("source tap101i6 not selected", StringComparison.Ordinal))
                && entries.Any(t => t.Contains("source tap101i1 not selected", StringComparison.Ordinal));
        }, Wait, "history with repairs from before and after the failover", () => "history:\n" + last + "\n" + Logs());

        (code, _, _) = await survivor.FabricAsync("mirrors", "remove", "cluster-mirror");
        Assert.Equal(0, code);
        OvsSandbox.WaitFor(() => !ovs.Vsctl("--columns=name", "list", "Mirror").Contains("cluster-mirror", StringComparison.Ordinal), Wait, "mirror removed");
    }

    public void Dispose()
    {
        foreach (var node in _nodes)
        {
            node.Dispose();
        }

        Psql($"DROP DATABASE IF EXISTS {_database} WITH (FORCE)");
    }
}
