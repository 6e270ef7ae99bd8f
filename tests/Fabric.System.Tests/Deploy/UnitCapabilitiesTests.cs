using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Fabric.System.Tests.DataPlane;

namespace Fabric.System.Tests.Deploy;

/// <summary>
/// Issue 8 scenario 8: the systemd unit of deploy/deb runs fabric-node with only CAP_NET_RAW and
/// CAP_NET_ADMIN. The unit file is checked key by key; then fabric-node is run as the unit would
/// run it without systemd: an unprivileged user (nobody), the bounding, inheritable and ambient
/// sets reduced to those two capabilities, no_new_privs (setpriv) — and a live capture pipeline
/// into a TAP sink works under it (with /dev/net/tun mode 0666, the Debian default). The unit's LimitMEMLOCK=infinity is not reproduced (raising a
/// hard limit needs CAP_SYS_RESOURCE, which a CI container may lack): the node runs with the host's
/// limits, i.e. it does not need the higher one to capture.
/// </summary>
[Collection(DataPlaneCollection.Name)]
public sealed class UnitCapabilitiesTests(DataPlaneFixture net)
{
    private const string CaptureCaps = "CAP_NET_ADMIN CAP_NET_RAW";

    /// <summary>CapEff/CapPrm/CapBnd of a process holding exactly CAP_NET_ADMIN (12) and CAP_NET_RAW (13).</summary>
    private const string CaptureCapMask = "0000000000003000";

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    private static Dictionary<string, string> Unit =>
        DebPackageTests.UnitSettings(File.ReadAllLines(Path.Combine(Run.RepoRoot, "deploy", "deb", "fabric-node.service")));

    [Fact]
    public void Unit_grants_only_CAP_NET_RAW_and_CAP_NET_ADMIN_to_an_unprivileged_user()
    {
        var unit = Unit;

        Assert.Equal(CaptureCaps, Sorted(unit["CapabilityBoundingSet"]));
        Assert.Equal(CaptureCaps, Sorted(unit["AmbientCapabilities"]));
        Assert.Equal("fabric", unit["User"]);
        Assert.Equal("fabric", unit["Group"]);
        Assert.Equal("true", unit["NoNewPrivileges"]);
        Assert.Equal("full", unit["ProtectSystem"]);
        Assert.Equal("true", unit["ProtectHome"]);
        Assert.Equal("true", unit["PrivateTmp"]);
        Assert.Equal("infinity", unit["LimitMEMLOCK"]);
        // fabric.pipelines[].nice's default (-10) without CAP_SYS_NICE (issue 16).
        Assert.Equal("-10", unit["LimitNICE"]);
        // No command of the unit runs with full privileges ("+" or "!" prefixes, PermissionsStartOnly).
        Assert.All(unit.Where(k => k.Key.StartsWith("Exec", StringComparison.Ordinal)), k => Assert.DoesNotMatch("^[-@:]*[+!]", k.Value));
        Assert.False(unit.ContainsKey("PermissionsStartOnly"));
        Assert.StartsWith("/usr/bin/fabric-node ", unit["ExecStart"], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fabric_node_with_only_those_capabilities_captures_live_into_a_TAP()
    {
        var root = Directory.CreateTempSubdirectory("fpt-caps-").FullName;
        var tap = "fpt" + Random.Shared.Next(0x1000, 0xFFFF).ToString("x4", CultureInfo.InvariantCulture) + "t";
        int http = Run.FreePort(), remoting = Run.FreePort();
        var config = Path.Combine(root, "node.conf");
        await File.WriteAllTextAsync(config, $$"""
            akka.cluster.roles = [capture]
            akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = {{remoting}} }
            fabric {
              data-dir = "{{root}}/data"
              management.http { host = 127.0.0.1, port = {{http}} }
              pipelines = [ {
                name = live
                source { interface = {{net.CaptureInterface}} }
                sinks = [ { type = tap, device = {{tap}}, persistent = off } ]
              } ]
            }
            """);
        Run.Process("chown", "-R", "nobody:nogroup", root);
        CapturedProcess? node = null;
        try
        {
            // A private mount namespace where /dev/net/tun is mode 0666 as udev makes it on Debian
            // (containers often have it 0600 root; the host's node is not touched), then the unit's
            // user and capabilities, then the node. Each step execs the next: the pid is the node's.
            var tun = Path.Combine(root, "tun");
            var setpriv = string.Join(' ', "setpriv --reuid nobody --regid nogroup --clear-groups",
                "--bounding-set -all,+net_raw,+net_admin --inh-caps -all,+net_raw,+net_admin",
                "--ambient-caps -all,+net_raw,+net_admin --no-new-privs --");
            var start = new ProcessStartInfo("unshare") { WorkingDirectory = root };
            foreach (var argument in (string[])[
                "--mount", "--propagation", "private", "--", "sh", "-c",
                $"mknod -m 666 '{tun}' c 10 200 && mount --bind '{tun}' /dev/net/tun && exec {setpriv} dotnet \"$0\" --config \"$1\"",
                Path.Combine(AppContext.BaseDirectory, "fabric-node.dll"), config])
            {
                start.ArgumentList.Add(argument);
            }

            start.Environment["HOME"] = root;
            node = CapturedProcess.Start(start);

            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}/"), Timeout = TimeSpan.FromSeconds(5) };
            var running = node;
            await Run.UntilAsync(async () =>
            {
                Assert.False(running.HasExited, $"fabric-node exited {(running.HasExited ? running.ExitCode : 0)}:\n{running.Output}");
                var stats = JsonDocument.Parse(await client.GetStringAsync(new Uri("pipelines/live/stats", UriKind.Relative))).RootElement.GetProperty("pipelines")[0];
                return stats.GetProperty("state").GetString() == "running" && stats.GetProperty("source").GetProperty("up").GetBoolean();
            }, Timeout, () => $"pipeline live running under the unit's capabilities; output:\n{running.Output}");

            // The process is who the unit says, with exactly the two capabilities.
            var status = File.ReadAllLines($"/proc/{node.Id}/status").Select(l => l.Split(':', 2)).ToDictionary(p => p[0], p => p[1].Trim());
            Assert.Equal("65534\t65534\t65534\t65534", status["Uid"]);
            Assert.Equal(CaptureCapMask, status["CapEff"]);
            Assert.Equal(CaptureCapMask, status["CapPrm"]);
            Assert.Equal(CaptureCapMask, status["CapBnd"]);
            Assert.Equal("1", status["NoNewPrivs"]);

            // Live traffic: captured, and written to the TAP (the kernel counts what the TAP received).
            var metrics = "";
            await Run.UntilAsync(async () =>
            {
                net.SendInner(50, 200, 900);
                metrics = await client.GetStringAsync(new Uri("metrics", UriKind.Relative));
                return Sample(metrics, "fabric_pipeline_packets_total{pipeline=\"live\",stage=\"capture\",direction=\"in\"}") > 0
                    && Sample(metrics, $"fabric_pipeline_packets_total{{pipeline=\"live\",stage=\"tap-{tap}\",direction=\"out\"}}") > 0
                    && long.Parse(File.ReadAllText($"/sys/class/net/{tap}/statistics/rx_packets"), CultureInfo.InvariantCulture) > 0;
            }, Timeout, () => $"packets captured and written to {tap}; metrics:\n{string.Join('\n', metrics.Split('\n').Where(l => l.Contains("live", StringComparison.Ordinal)))}\noutput:\n{node.Output}");

            var metricsText = await client.GetStringAsync(new Uri("metrics", UriKind.Relative));
            var tapDrops = metricsText.Split('\n').Where(l => l.StartsWith($"fabric_pipeline_dropped_packets_total{{pipeline=\"live\",stage=\"tap-{tap}\",", StringComparison.Ordinal)).ToList();
            Assert.NotEmpty(tapDrops);
            Assert.All(tapDrops, l => Assert.EndsWith(" 0", l, StringComparison.Ordinal));

            Assert.Equal(0, Run.Process("kill", "-TERM", node.Id.ToString(CultureInfo.InvariantCulture)).ExitCode);
            Assert.True(node.WaitForExit(TimeSpan.FromSeconds(30)), "fabric-node did not stop within 30 s of SIGTERM");
            Assert.True(node.ExitCode == 0, $"exit {node.ExitCode}:\n{node.Output}");
        }
        finally
        {
            node?.Dispose(); // kills it if it still runs, then waits for its last line
            Run.Process("ip", "link", "del", tap); // gone already (persistent = off) unless the test failed midway
            Directory.Delete(root, recursive: true);
        }
    }

    private static string Sorted(string capabilities) =>
        string.Join(' ', capabilities.Split(' ', StringSplitOptions.RemoveEmptyEntries).Order(StringComparer.Ordinal));

    /// <summary>The value of one series in Prometheus text (0 when absent).</summary>
    private static double Sample(string metrics, string series)
    {
        var line = metrics.Split('\n').FirstOrDefault(l => l.StartsWith(series + " ", StringComparison.Ordinal));
        return line is null ? 0 : double.Parse(line[(series.Length + 1)..], CultureInfo.InvariantCulture);
    }
}
