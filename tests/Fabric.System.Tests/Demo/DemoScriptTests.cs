using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Fabric.System.Tests.DataPlane;
using Xunit;

namespace Fabric.System.Tests.Demo;

/// <summary>
/// The README's first quick-start command, as a user runs it: <c>bash demo.sh up</c> from the repository root
/// brings up both halves of the seed's story — a real Open vSwitch (in <c>.demo/ovs</c>, its datapath and the VM
/// taps in the namespace <c>fxdemo-pve</c>) with the mirror <c>seed-mirror</c> that survives VM 101's restart, and the
/// VXLAN/ERSPAN pipeline <c>demo</c> into the TAP <c>fxdemo-tap</c>; <c>bash demo.sh down</c> removes exactly that.
/// Needs root; uses the demo's fixed names (<c>fxdemo-*</c>; the Proxmox tap names exist only inside the demo's
/// namespaces), so it also clears a demo left running by hand.
/// </summary>
public sealed partial class DemoScriptTests
{
    private const string Veth = "fxdemo0";
    private const string Tap = "fxdemo-tap";
    private static readonly string[] Namespaces = ["fxdemo-src", "fxdemo-pve", "fxdemo-vm101", "fxdemo-vm102", "fxdemo-vm103"];

    // What each pid in .demo/state must still have in its command line to be the demo's.
    private static readonly (string Key, string Word)[] Processes =
    [
        ("node_pid", "fabric-node"), ("ovsdb_pid", "/.demo/ovs/"), ("vswitchd_pid", "/.demo/ovs/"),
        ("traffic_vm101_pid", "vm-traffic.py"), ("traffic_vm102_pid", "vm-traffic.py"),
        ("traffic_vxlan_pid", "traffic.py"), ("traffic_erspan_pid", "erspanII.pcap"),
    ];

    [Fact]
    public async Task Demo_up_shows_the_mirror_repaired_after_a_vm_restart_and_decapsulated_frames_and_down_removes_everything()
    {
        string repo = TestPaths.RepoRoot;
        string statePath = Path.Combine(repo, ".demo", "state");
        string ovsDb = "unix:" + Path.Combine(repo, ".demo", "ovs", "db.sock");
        var pids = new List<(int Pid, string Word)>();
        (int Exit, string Output) down;
        try
        {
            var up = Run(repo, "up", TimeSpan.FromMinutes(5));
            Assert.True(up.Exit == 0, $"demo.sh up exited {up.Exit}:\n{up.Output}");

            var state = File.ReadAllLines(statePath)
                .Select(l => l.Split('=', 2))
                .ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
            foreach (var (key, word) in Processes)
            {
                pids.Add((int.Parse(state[key], global::System.Globalization.CultureInfo.InvariantCulture), word));
            }

            Assert.All(pids, p => Assert.True(IsRunning(p.Pid, p.Word), $"pid {p.Pid} ({p.Word}) is not running after up"));
            using var client = new HttpClient { BaseAddress = new Uri(state["management"] + "/"), Timeout = TimeSpan.FromSeconds(5) };

            // ---- The Proxmox half: the sensor saw VM 101's traffic on both NICs, before and after the restart.
            int restart = up.Output.IndexOf("VM 101 restarts the Proxmox way", StringComparison.Ordinal);
            Assert.True(restart > 0, up.Output);
            string before = up.Output[..restart], after = up.Output[restart..];
            Assert.NotEmpty(SensorNet1Line().Matches(before));
            Assert.NotEmpty(SensorNet6Line().Matches(before));
            Assert.NotEmpty(SensorReplyLine().Matches(before));
            Assert.Equal(4, SensorNet1Line().Matches(after).Count);

            // The repairs the demo showed: the history table's rows and its summary, each with its latency in ms.
            string afterRestart = up.Output[up.Output.IndexOf("VM 101's restart, repaired on OVS's change events", StringComparison.Ordinal)..];
            var shown = RepairLine().Matches(afterRestart.Split("==>")[0]);
            Assert.NotEmpty(shown);
            Assert.All(shown, m => Assert.InRange(double.Parse(m.Groups["ms"].Value, global::System.Globalization.CultureInfo.InvariantCulture), 0.0, 1000.0));
            Assert.Contains("│ repair   │ event repair in ", up.Output, StringComparison.Ordinal);

            // The same repairs in the node's journal (what `fabric mirrors history seed-mirror --json` prints) …
            var history = JsonDocument.Parse(await client.GetStringAsync(new Uri("mirrors/seed-mirror/history?limit=200", UriKind.Relative))).RootElement;
            var journaled = history.GetProperty("entries").EnumerateArray()
                .Where(e => e.GetProperty("kind").GetString() == "repair")
                .Select(e => e.GetProperty("text").GetString()!)
                .ToList();
            Assert.All(shown, m => Assert.Contains(m.Value, journaled));
            // … and in OVS itself: the Mirror row selects VM 101's new ports and outputs to the sensor's.
            string tap101i1 = Vsctl(ovsDb, "get", "Port", "tap101i1", "_uuid").Trim();
            Assert.Contains(tap101i1, Vsctl(ovsDb, "get", "Mirror", "seed-mirror", "select_src_port"), StringComparison.Ordinal);
            Assert.Contains(tap101i1, Vsctl(ovsDb, "get", "Mirror", "seed-mirror", "select_dst_port"), StringComparison.Ordinal);
            Assert.Equal(Vsctl(ovsDb, "get", "Port", "tap103i1", "_uuid").Trim(), Vsctl(ovsDb, "get", "Mirror", "seed-mirror", "output_port").Trim());
            var mirror = JsonDocument.Parse(await client.GetStringAsync(new Uri("mirrors/seed-mirror", UriKind.Relative))).RootElement;
            Assert.Equal("healthy", mirror.GetProperty("status").GetProperty("health").GetString());

            // An independent look at the sensor VM's NIC: VM 101's datagrams to VM 102, mirrored.
            var sensor = Shell.Run("timeout", "20 ip netns exec fxdemo-vm103 tcpdump -c 3 -l -n -i net1 udp and src host 10.254.101.1 and dst host 10.254.101.2", check: false);
            Assert.Equal(3, SensorNet1Line().Matches(sensor).Count);

            // ---- The cloud half: pipeline demo delivers (the node's own counters).
            var pipeline = JsonDocument.Parse(await client.GetStringAsync(new Uri("pipelines", UriKind.Relative))).RootElement
                .GetProperty("pipelines").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "demo");
            Assert.Equal("running", pipeline.GetProperty("state").GetString());
            Assert.True(pipeline.GetProperty("delivered").GetInt64() > 0, pipeline.ToString());

            // The script's console stats table; frames without a tunnel header under their own heading, not as drops.
            Assert.Matches(StatsRow(), up.Output);
            Assert.Matches(NotEncapsulatedLine(), up.Output);
            Assert.DoesNotContain("not-encapsulated", up.Output, StringComparison.Ordinal);
            // Its tcpdump of the TAP: the VXLAN sender's inner UDP frames and the ERSPAN capture's inner ICMP, not tunnels.
            Assert.Equal(5, InnerFrameLine().Matches(up.Output).Count);
            Assert.Equal(2, ErspanInnerLine().Matches(up.Output).Count);
            Assert.Contains("5 packets captured", up.Output, StringComparison.Ordinal);

            // An independent look at the TAP: only the inner frames' addresses match these filters.
            var tcpdump = Shell.Run("timeout", $"20 tcpdump -c 3 -n -i {Tap} udp and src host 10.254.42.1 and dst host 10.254.42.2 and dst portrange 5000-5009", check: false);
            Assert.Equal(3, InnerFrameLine().Matches(tcpdump).Count);
            tcpdump = Shell.Run("timeout", $"20 tcpdump -c 2 -n -i {Tap} icmp and host 23.0.0.2 and host 23.0.0.3", check: false);
            Assert.Equal(2, ErspanInnerLine().Matches(tcpdump).Count);

            // The timings it reports, from the end of the build: within about a minute (generous for a loaded machine).
            var timing = Timing().Match(up.Output);
            Assert.True(timing.Success, up.Output);
            Assert.InRange(double.Parse(timing.Groups["frame"].Value, global::System.Globalization.CultureInfo.InvariantCulture), 0.0, 120.0);
            Assert.InRange(double.Parse(timing.Groups["repair"].Value, global::System.Globalization.CultureInfo.InvariantCulture), 0.0, 120.0);
        }
        finally
        {
            // Runs also when up or an assertion failed; the pids read above are checked below.
            down = Run(repo, "down", TimeSpan.FromMinutes(1));
        }

        Assert.True(down.Exit == 0, $"demo.sh down exited {down.Exit}:\n{down.Output}");
        Assert.All(pids, p => Assert.False(IsRunning(p.Pid, p.Word), $"pid {p.Pid} ({p.Word}) still runs after down"));
        Assert.False(Directory.Exists($"/sys/class/net/{Veth}"), $"{Veth} still exists");
        Assert.False(Directory.Exists($"/sys/class/net/{Tap}"), $"{Tap} still exists");
        Assert.All(Namespaces, ns => Assert.False(File.Exists($"/run/netns/{ns}"), $"namespace {ns} still exists"));
        Assert.False(Directory.Exists(Path.Combine(repo, ".demo")), "the .demo directory (state, OVS database) is still there");

        // down again: nothing left to do, still success.
        Assert.Equal(0, Run(repo, "down", TimeSpan.FromMinutes(1)).Exit);
    }

    // "tap-fxdemo-tap │ 14 │ 14 │" in the console's stats table: the TAP stage's out count, above zero.
    [GeneratedRegex(@"tap-fxdemo-tap\s*\S\s*[1-9][\d,]*\s*\S\s*[1-9][\d,]*")]
    private static partial Regex StatsRow();

    [GeneratedRegex(@"not encapsulated \(no tunnel header.*nothing lost\): decap [1-9][\d,]*")]
    private static partial Regex NotEncapsulatedLine();

    // tcpdump -n: "10.254.42.1.49590 > 10.254.42.2.5007: UDP, length 200" — the sender's datagram, decapsulated.
    [GeneratedRegex(@"10\.254\.42\.1\.\d+ > 10\.254\.42\.2\.500\d: UDP, length \d+")]
    private static partial Regex InnerFrameLine();

    // The inner frames of tests/corpus/zeek/erspanII.pcap: "23.0.0.2 > 23.0.0.3: ICMP echo request, id 22, seq 0".
    [GeneratedRegex(@"23\.0\.0\.[23] > 23\.0\.0\.[23]: ICMP echo (request|reply), id 22")]
    private static partial Regex ErspanInnerLine();

    // On the sensor's NIC: VM 101's datagram to VM 102 (net1), and to 10.254.106.2 (net6).
    [GeneratedRegex(@"10\.254\.101\.1\.\d+ > 10\.254\.101\.2\.7: UDP")]
    private static partial Regex SensorNet1Line();

    [GeneratedRegex(@"10\.254\.106\.1\.\d+ > 10\.254\.106\.2\.7: UDP")]
    private static partial Regex SensorNet6Line();

    // VM 102's answer to VM 101: what the mirror's egress side (select_dst_port) of tap101i1 adds.
    [GeneratedRegex(@"10\.254\.101\.2\.7 > 10\.254\.101\.1\.\d+: UDP")]
    private static partial Regex SensorReplyLine();

    // "  event repair in 3.2 ms: source tap101i6 not selected (ingress); …" (the whole text as journaled).
    [GeneratedRegex(@"event repair in (?<ms>\d+\.\d) ms: [^\n│]*?(?=\s*$)", RegexOptions.Multiline)]
    private static partial Regex RepairLine();

    [GeneratedRegex(@"timing \(from the end of the build\): first decapsulated frame \+(?<frame>[\d.]+) s, repair shown \+(?<repair>[\d.]+) s")]
    private static partial Regex Timing();

    private static string Vsctl(string db, params string[] args) =>
        Shell.Run("ovs-vsctl", $"--db={db} --timeout=10 {string.Join(' ', args)}");

    private static bool IsRunning(int pid, string word)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Contains(word, StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>Runs <c>bash demo.sh COMMAND</c> in the repository root; stdout and stderr together.</summary>
    private static (int Exit, string Output) Run(string repo, string command, TimeSpan timeout)
    {
        var info = new ProcessStartInfo("bash", ["demo.sh", command])
        {
            WorkingDirectory = repo,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var output = new StringBuilder();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(timeout))
        {
            // Only the script itself (its children are removed by `down` through the state file).
            process.Kill();
            process.WaitForExit();
            lock (output)
            {
                return (-1, $"demo.sh {command} did not finish within {timeout}\n{output}");
            }
        }

        process.WaitForExit();
        lock (output)
        {
            return (process.ExitCode, output.ToString());
        }
    }
}
