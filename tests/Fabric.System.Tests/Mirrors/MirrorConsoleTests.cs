using System.Text.Json;
using Fabric.Actors.Tests.Mirrors.Sandbox;
using Xunit;

namespace Fabric.System.Tests.Mirrors;

/// <summary>
/// "Must show" 1 and 2 end to end: a real fabric-node (roles supervisor and site-pve-a, SQLite
/// journal) against real Open vSwitch, driven by the real <c>fabric</c> console.
/// </summary>
[Collection(OvsSandboxCollection.Name)]
public sealed class MirrorConsoleTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private readonly OvsSandbox _ovs;
    private readonly NodeProcess _node;
    private readonly VmTraffic _vms;

    public MirrorConsoleTests(OvsSandbox ovs)
    {
        _ovs = ovs;
        _ovs.Reset();
        _vms = new VmTraffic(ovs);
        _node = new NodeProcess($$"""
            akka.cluster.roles = [supervisor, site-pve-a]
            fabric.sites = [ { name = pve-a, backend = ovs, ovsdb = "{{ovs.Endpoint}}" } ]
            fabric.mirror-agent.report-interval = 500ms
            """).Start();
    }

    private async Task<JsonElement> JsonAsync(params string[] args)
    {
        var (code, stdout, stderr) = await _node.FabricAsync([.. args, "--json"]);
        Assert.True(code == 0, $"fabric {string.Join(' ', args)}: exit {code}: {stderr}");
        return JsonDocument.Parse(stdout).RootElement.Clone();
    }

    private Task WaitForAsync(Func<Task<bool>> condition, string what) =>
        global::Fabric.Tests.Wait.UntilAsync(condition, Wait, () => $"{what}\n{_node.Output}");

    [Fact]
    public async Task Seed_mirror_from_the_console_survives_a_proxmox_vm_restart()
    {
        await _node.WaitReadyAsync(TimeSpan.FromSeconds(60));
        await WaitForAsync(async () => (await _node.FabricAsync("mirrors", "list")).Code == 0, "mirror supervision started");

        // 1. The seed's mirror, created from the console.
        var (code, stdout, stderr) = await _node.FabricAsync("mirrors", "add", "seed-mirror", "--site", "pve-a", "--backend", "ovs", "--bridge", _ovs.Bridge,
            "--source", "vm:101/net1", "--source", "vm:101/net6", "--output", "vm:103/net1", "--direction", "both");
        Assert.True(code == 0, stderr);
        Assert.Contains("mirror seed-mirror defined", stdout, StringComparison.Ordinal);
        await WaitForAsync(async () => (await JsonAsync("mirrors", "show", "seed-mirror")).GetProperty("status").GetProperty("health").GetString() == "healthy", "seed-mirror healthy");
        Assert.True(_ovs.MirrorHolds("seed-mirror", "select_src_port", "tap101i6"));
        _vms.LearnOtherVm();
        Assert.True(_vms.MirroredWithin("tap101i1", "tap103i1", Wait), _ovs.Diagnostics());

        // Adding it again is idempotent.
        (code, stdout, _) = await _node.FabricAsync("mirrors", "add", "seed-mirror", "--site", "pve-a", "--bridge", _ovs.Bridge,
            "--source", "vm:101/net1", "--source", "vm:101/net6", "--output", "vm:103/net1");
        Assert.Equal(0, code);
        Assert.Contains("already defined like this", stdout, StringComparison.Ordinal);

        // 2. VM 101 restarted the Proxmox way: repaired, mirrored again, and in the history.
        _vms.Close("tap101i1");
        _ovs.RestartVmNic("tap101i1");
        OvsSandbox.WaitFor(() => _ovs.MirrorHolds("seed-mirror", "select_src_port", "tap101i1"), Wait, "repair of seed-mirror");
        _vms.LearnOtherVm();
        Assert.True(_vms.MirroredWithin("tap101i1", "tap103i1", Wait), _ovs.Diagnostics());
        await WaitForAsync(
            async () => (await JsonAsync("mirrors", "history", "seed-mirror")).GetProperty("entries").EnumerateArray()
                .Any(e => e.GetProperty("kind").GetString() == "repair" && e.GetProperty("text").GetString()!.Contains("source tap101i1 not selected", StringComparison.Ordinal)),
            "repair in the history");
        var list = await JsonAsync("mirrors", "list");
        var seed = list.GetProperty("sessions").EnumerateArray().Single(s => s.GetProperty("name").GetString() == "seed-mirror");
        Assert.True(seed.GetProperty("repairCount").GetInt64() >= 2);
        Assert.Equal("event", seed.GetProperty("lastRepair").GetProperty("trigger").GetString());
        (code, stdout, _) = await _node.FabricAsync("mirrors", "history", "seed-mirror");
        Assert.Equal(0, code);
        Assert.Contains("event repair in", stdout, StringComparison.Ordinal);

        var metrics = await _node.Http().GetStringAsync("metrics");
        Assert.Contains("fabric_mirror_repairs_total{site=\"pve-a\",session=\"seed-mirror\",result=\"ok\"}", metrics, StringComparison.Ordinal);

        // Unknown names: exit code 4 and one line.
        (code, _, stderr) = await _node.FabricAsync("mirrors", "show", "nope");
        Assert.Equal(4, code);
        Assert.Contains("no mirror session nope", stderr, StringComparison.Ordinal);

        // Removing takes Fabric's mirror away.
        (code, stdout, _) = await _node.FabricAsync("mirrors", "remove", "seed-mirror");
        Assert.Equal(0, code);
        Assert.Contains("mirror seed-mirror removed", stdout, StringComparison.Ordinal);
        OvsSandbox.WaitFor(() => !_ovs.Vsctl("--columns=name", "list", "Mirror").Contains("seed-mirror", StringComparison.Ordinal), Wait, "mirror row removed");
    }

    public void Dispose()
    {
        _vms.Dispose();
        _node.Dispose();
    }
}
