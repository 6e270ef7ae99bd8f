using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Fabric.System.Tests.DataPlane;
using Xunit;

namespace Fabric.System.Tests.Demo;

/// <summary>
/// The README's first quick-start command, as a user runs it: <c>bash demo.sh up</c> from the repository root
/// brings up the namespace, the kernel VXLAN sender, a fabric-node with the pipeline <c>demo</c> and the TAP
/// <c>fxdemo-tap</c>; <c>bash demo.sh down</c> removes exactly that. Needs root; uses the demo's fixed names
/// (<c>fxdemo-src</c>, <c>fxdemo0</c>, <c>fxdemo-tap</c>), so it also clears a demo left running by hand.
/// </summary>
public sealed partial class DemoScriptTests
{
    private const string Namespace = "fxdemo-src";
    private const string Veth = "fxdemo0";
    private const string Tap = "fxdemo-tap";

    [Fact]
    public async Task Demo_up_shows_decapsulated_frames_on_the_tap_and_down_removes_everything_it_started()
    {
        string repo = TestPaths.RepoRoot;
        string statePath = Path.Combine(repo, ".demo", "state");
        var pids = new List<(int Pid, string Word)>();
        (int Exit, string Output) down;
        try
        {
            var up = Run(repo, "up", TimeSpan.FromMinutes(5));
            Assert.True(up.Exit == 0, $"demo.sh up exited {up.Exit}:\n{up.Output}");

            var state = File.ReadAllLines(statePath)
                .Select(l => l.Split('=', 2))
                .ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
            pids.Add((int.Parse(state["node_pid"], global::System.Globalization.CultureInfo.InvariantCulture), "fabric-node"));
            pids.Add((int.Parse(state["traffic_pid"], global::System.Globalization.CultureInfo.InvariantCulture), "traffic.py"));
            Assert.All(pids, p => Assert.True(IsRunning(p.Pid, p.Word), $"pid {p.Pid} ({p.Word}) is not running after up"));

            // The node's own counters: pipeline demo delivers.
            using var client = new HttpClient { BaseAddress = new Uri(state["management"] + "/"), Timeout = TimeSpan.FromSeconds(5) };
            var pipeline = JsonDocument.Parse(await client.GetStringAsync(new Uri("pipelines", UriKind.Relative))).RootElement
                .GetProperty("pipelines").EnumerateArray().Single(p => p.GetProperty("name").GetString() == "demo");
            Assert.Equal("running", pipeline.GetProperty("state").GetString());
            Assert.True(pipeline.GetProperty("delivered").GetInt64() > 0, pipeline.ToString());

            // The script's console stats table and its tcpdump of the TAP: inner UDP frames, not VXLAN.
            Assert.Matches(StatsRow(), up.Output);
            Assert.Equal(5, InnerFrameLine().Matches(up.Output).Count);
            Assert.Contains("5 packets captured", up.Output, StringComparison.Ordinal);

            // An independent look at the TAP: only the inner frames' addresses match this filter.
            var tcpdump = Shell.Run("timeout", $"20 tcpdump -c 3 -n -i {Tap} udp and src host 10.254.42.1 and dst host 10.254.42.2 and dst portrange 5000-5009", check: false);
            Assert.Equal(3, InnerFrameLine().Matches(tcpdump).Count);
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
        Assert.False(File.Exists($"/run/netns/{Namespace}"), $"namespace {Namespace} still exists");
        Assert.False(File.Exists(statePath), "the state file is still there");

        // down again: nothing left to do, still success.
        Assert.Equal(0, Run(repo, "down", TimeSpan.FromMinutes(1)).Exit);
    }

    // "tap-fxdemo-tap │ 14 │ 14 │" in the console's stats table: the TAP stage's out count, above zero.
    [GeneratedRegex(@"tap-fxdemo-tap\s*\S\s*[1-9][\d,]*\s*\S\s*[1-9][\d,]*")]
    private static partial Regex StatsRow();

    // tcpdump -n: "10.254.42.1.49590 > 10.254.42.2.5007: UDP, length 200" — the sender's datagram, decapsulated.
    [GeneratedRegex(@"10\.254\.42\.1\.\d+ > 10\.254\.42\.2\.500\d: UDP, length \d+")]
    private static partial Regex InnerFrameLine();

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
