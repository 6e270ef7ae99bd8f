using System.Diagnostics;
using System.Globalization;
using Xunit.Abstractions;

namespace Fabric.System.Tests.Deploy;

/// <summary>
/// Issue 12 point 4: the .deb under a real systemd (<see cref="SystemdContainer"/>: Debian 12 booted
/// by systemd-nspawn). Installed with <c>dpkg -i</c>; <c>systemctl start fabric-node</c> returns only
/// when <c>/ready</c> answers 200 (Type=notify, READY=1 after start-up); status and the journal show
/// the node's log; <c>kill -9</c> of the main pid is restarted; <c>systemctl stop</c> leaves the
/// cluster and exits 0; the node runs as <c>fabric</c> with only CAP_NET_RAW and CAP_NET_ADMIN;
/// <c>dpkg --purge</c> removes the package's files and configuration and keeps captured traffic.
/// Each test leaves the service stopped; the purge test leaves the package uninstalled.
/// </summary>
[Collection(SystemdCollection.Name)]
public sealed class SystemdUnitTests(SystemdContainer box, ITestOutputHelper output)
{
    /// <summary>The default /etc/fabric/fabric.conf's management port (the container has its own network).</summary>
    private const int ManagementPort = 8558;

    /// <summary>CAP_NET_ADMIN (12) and CAP_NET_RAW (13), as /proc/PID/status prints a capability set.</summary>
    private const string CaptureCapMask = "0000000000003000";

    [Fact]
    public void Start_returns_when_the_node_is_ready_status_and_journal_show_its_log_stop_leaves_the_cluster_and_exits_0()
    {
        Install(box);
        var starts = new List<double>();
        var stops = new List<double>();
        for (var round = 0; round < 3; round++)
        {
            var watch = Stopwatch.StartNew();
            box.Ok("systemctl", "start", "fabric-node");
            starts.Add(watch.Elapsed.TotalSeconds);
            // Right after start returned, not polled: Type=notify means ready now.
            Assert.Equal("200", ReadyStatus(box, ManagementPort));
            var unit = Show(box, "ActiveState", "SubState", "MainPID", "Type");
            Assert.Equal(("active", "running", "notify"), (unit["ActiveState"], unit["SubState"], unit["Type"]));
            var pid = unit["MainPID"];

            var status = box.Exec("systemctl", "status", "fabric-node", "--no-pager", "--lines=200", "--full");
            Assert.True(status.ExitCode == 0, status.ToString());
            Assert.Contains("Active: active (running)", status.Stdout, StringComparison.Ordinal);
            Assert.Contains($"Main PID: {pid} (fabric-node)", status.Stdout, StringComparison.Ordinal);
            Assert.Contains($"fabric-node[{pid}]: ", status.Stdout, StringComparison.Ordinal);
            var journal = NodeJournal(box, pid, "persistence Sqlite");
            Assert.Contains("Fabric.Node[0] fabric-node akka.tcp://fabric@127.0.0.1:4053 roles [capture,supervisor] management http://127.0.0.1:8558", journal, StringComparison.Ordinal);
            Assert.Contains("is JOINING itself", journal, StringComparison.Ordinal);

            watch.Restart();
            box.Ok("systemctl", "stop", "fabric-node");
            stops.Add(watch.Elapsed.TotalSeconds);
            var stopped = Show(box, "ActiveState", "Result", "ExecMainCode", "ExecMainStatus", "ExecMainPID");
            Assert.Equal("inactive", stopped["ActiveState"]);
            Assert.Equal("success", stopped["Result"]);
            Assert.Equal(pid, stopped["ExecMainPID"]);
            Assert.Equal(("1", "0"), (stopped["ExecMainCode"], stopped["ExecMainStatus"])); // CLD_EXITED, status 0
            Assert.True(box.Exec("test", "-d", $"/proc/{pid}").ExitCode != 0, $"pid {pid} still exists after stop");
            journal = NodeJournal(box, pid, "Remoting shut down");
            Assert.Contains("Stopping: leaving the cluster (CoordinatedShutdown)", journal, StringComparison.Ordinal);
            Assert.Contains("to [Exiting]", journal, StringComparison.Ordinal);
            Assert.Contains("Exiting completed", journal, StringComparison.Ordinal);
        }

        output.WriteLine($"systemctl start to ready: {Seconds(starts)}; systemctl stop to exit: {Seconds(stops)}");
    }

    [Fact]
    public async Task Kill_9_of_the_main_pid_is_restarted_by_systemd_and_the_new_process_is_ready()
    {
        Install(box);
        box.Ok("systemctl", "start", "fabric-node");
        var restarts = new List<double>();
        try
        {
            for (var round = 0; round < 3; round++)
            {
                var before = Show(box, "MainPID", "NRestarts");
                var watch = Stopwatch.StartNew();
                box.Ok("kill", "-KILL", before["MainPID"]);
                string pid = "";
                await Run.UntilAsync(
                    () =>
                    {
                        var now = Show(box, "MainPID", "ActiveState", "SubState");
                        pid = now["MainPID"];
                        return Task.FromResult(pid != "0" && pid != before["MainPID"] && now["ActiveState"] == "active" && now["SubState"] == "running" && ReadyStatus(box, ManagementPort) == "200");
                    },
                    TimeSpan.FromSeconds(60),
                    () => $"a new ready fabric-node after kill -9 of {before["MainPID"]}: {box.Exec("systemctl", "status", "fabric-node", "--no-pager")}");
                restarts.Add(watch.Elapsed.TotalSeconds);

                var after = Show(box, "NRestarts", "ExecMainPID");
                Assert.Equal(int.Parse(before["NRestarts"], CultureInfo.InvariantCulture) + 1, int.Parse(after["NRestarts"], CultureInfo.InvariantCulture));
                Assert.Equal(pid, after["ExecMainPID"]);
                var journal = box.Ok("journalctl", "-u", "fabric-node", "--no-pager", "-o", "cat");
                // Only this test kills the node in this container's boot: one line per round so far.
                Assert.Equal(round + 1, CountOf(journal, "fabric-node.service: Main process exited, code=killed, status=9/KILL"));
                Assert.Equal(round + 1, CountOf(journal, "fabric-node.service: Scheduled restart job"));
            }
        }
        finally
        {
            box.Exec("systemctl", "stop", "fabric-node");
        }

        output.WriteLine($"restart after kill -9 (to /ready 200, RestartSec=5s included): {Seconds(restarts)}");
    }

    [Fact]
    public void Node_runs_as_the_fabric_user_with_only_CAP_NET_RAW_and_CAP_NET_ADMIN()
    {
        Install(box);
        box.Ok("systemctl", "start", "fabric-node");
        try
        {
            var pid = Show(box, "MainPID")["MainPID"];
            var status = box.Ok("cat", $"/proc/{pid}/status").Split('\n')
                .Select(l => l.Split(':', 2))
                .Where(p => p.Length == 2)
                .ToDictionary(p => p[0], p => p[1].Trim());
            var uid = box.Ok("id", "-u", "fabric").Trim();
            var gid = box.Ok("id", "-g", "fabric").Trim();
            Assert.NotEqual("0", uid);
            Assert.Equal($"{uid}\t{uid}\t{uid}\t{uid}", status["Uid"]); // real, effective, saved, filesystem
            Assert.Equal($"{gid}\t{gid}\t{gid}\t{gid}", status["Gid"]);
            Assert.Equal("fabric-node", status["Name"]);
            foreach (var set in (string[])["CapEff", "CapPrm", "CapBnd", "CapAmb"])
            {
                Assert.True(status[set] == CaptureCapMask, $"{set} = {status[set]} ({Decode(status[set])}), expected {CaptureCapMask} (CAP_NET_ADMIN CAP_NET_RAW)");
            }

            Assert.Equal("CAP_NET_ADMIN CAP_NET_RAW", Decode(status["CapEff"]));
            Assert.Equal("1", status["NoNewPrivs"]);
        }
        finally
        {
            box.Exec("systemctl", "stop", "fabric-node");
        }
    }

    [Fact]
    public void Purge_removes_the_unit_the_binaries_the_config_and_the_journal_and_keeps_captured_traffic()
    {
        Install(box);
        box.Ok("systemctl", "start", "fabric-node");
        // The node's own state, and a capture a pcap sink would have written (as the node's user).
        Assert.True(box.Exec("test", "-f", "/var/lib/fabric/fabric.db").ExitCode == 0, "the node keeps its journal in /var/lib/fabric/fabric.db");
        box.Ok("setpriv", "--reuid", "fabric", "--regid", "fabric", "--init-groups", "--", "sh", "-c", "mkdir -p /var/lib/fabric/pcap && printf 'capture' > /var/lib/fabric/pcap/lab-00001.pcap");
        var uid = box.Ok("id", "-u", "fabric").Trim();

        var purge = box.Exec("dpkg", "--purge", "fabric");
        Assert.True(purge.ExitCode == 0, purge.ToString());

        Assert.NotEqual(0, box.Exec("dpkg-query", "-W", "fabric").ExitCode);
        Assert.Equal("inactive", Show(box, "ActiveState")["ActiveState"]);
        foreach (var gone in (string[])["/lib/systemd/system/fabric-node.service", "/etc/systemd/system/multi-user.target.wants/fabric-node.service", "/usr/lib/fabric", "/usr/bin/fabric", "/usr/bin/fabric-node", "/etc/fabric", "/var/lib/fabric/fabric.db", "/usr/share/doc/fabric"])
        {
            Assert.True(box.Exec("test", "-e", gone).ExitCode != 0, $"{gone} is still there after dpkg --purge");
        }

        Assert.Contains("0 unit files listed", box.Exec("systemctl", "list-unit-files", "--no-pager", "fabric-node.service").Stdout, StringComparison.Ordinal);
        // Kept: captured traffic, with its owner (the fabric user and group stay while it exists).
        Assert.Equal("capture", File.ReadAllText(box.PathOf("/var/lib/fabric/pcap/lab-00001.pcap")));
        Assert.Equal($"fabric:fabric {uid}", box.Ok("stat", "-c", "%U:%G %u", "/var/lib/fabric/pcap/lab-00001.pcap").Trim());
        Assert.Contains("fabric: kept /var/lib/fabric", purge.Stdout + purge.Stderr, StringComparison.Ordinal);
        Assert.Equal(uid, box.Ok("id", "-u", "fabric").Trim());

        // Once the captures are gone, a purge of a reinstalled package removes the directory and the user too.
        box.Ok("rm", "-rf", "/var/lib/fabric/pcap");
        Install(box);
        box.Ok("dpkg", "--purge", "fabric");
        Assert.True(box.Exec("test", "-e", "/var/lib/fabric").ExitCode != 0, "/var/lib/fabric is still there after purge without captures");
        Assert.NotEqual(0, box.Exec("getent", "passwd", "fabric").ExitCode);
        Assert.NotEqual(0, box.Exec("getent", "group", "fabric").ExitCode);
    }

    /// <summary>Installs the test .deb with dpkg -i unless this version is installed already.</summary>
    internal static void Install(SystemdContainer box)
    {
        Assert.True(box.Deb.BuildResult.ExitCode == 0, box.Deb.BuildResult.ToString());
        if (box.Exec("dpkg-query", "-W", "-f=${Status} ${Version}", "fabric").Stdout.Trim() == $"install ok installed {DebPackageFixture.Version}")
        {
            return;
        }

        File.Copy(box.Deb.Package, box.PathOf("/root/fabric.deb"), overwrite: true);
        box.Ok("dpkg", "-i", "/root/fabric.deb");
        box.Ok("rm", "/root/fabric.deb");
        Assert.Equal("enabled", box.Exec("systemctl", "is-enabled", "fabric-node").Stdout.Trim());
    }

    /// <summary>Properties of fabric-node.service (systemctl show).</summary>
    internal static Dictionary<string, string> Show(SystemdContainer box, params string[] properties) =>
        box.Ok(["systemctl", "show", "fabric-node", .. properties.Select(p => "--property=" + p)])
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split('=', 2))
            .ToDictionary(p => p[0], p => p[1]);

    /// <summary>The HTTP status of /ready, asked from inside the container's network namespace.</summary>
    internal static string ReadyStatus(SystemdContainer box, int port) =>
        box.InNetwork("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", $"http://127.0.0.1:{port}/ready").Stdout.Trim();

    /// <summary>The journal lines of one fabric-node process; waits (10 s) until <paramref name="until"/> has reached the journal.</summary>
    private static string NodeJournal(SystemdContainer box, string pid, string until)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var journal = box.Ok("journalctl", "-u", "fabric-node", $"_PID={pid}", "--no-pager", "-o", "cat");
            if (journal.Contains(until, StringComparison.Ordinal) || DateTime.UtcNow > deadline)
            {
                Assert.True(journal.Contains(until, StringComparison.Ordinal), $"journalctl -u fabric-node _PID={pid} has no \"{until}\":\n{journal}");
                return journal;
            }

            Thread.Sleep(200);
        }
    }

    /// <summary>The names of the capabilities in a /proc/PID/status mask (those up to CAP_NET_RAW by name, others by number).</summary>
    private static string Decode(string mask)
    {
        string[] names = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW"];
        var bits = ulong.Parse(mask, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        return string.Join(' ', Enumerable.Range(0, 64).Where(i => (bits & (1UL << i)) != 0).Select(i => i < names.Length ? names[i] : "cap" + i.ToString(CultureInfo.InvariantCulture)));
    }

    private static int CountOf(string text, string what)
    {
        var count = 0;
        for (var at = text.IndexOf(what, StringComparison.Ordinal); at >= 0; at = text.IndexOf(what, at + what.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    private static string Seconds(List<double> values)
    {
        var sorted = values.Order().ToList();
        return $"median {sorted[sorted.Count / 2]:0.00} s of [{string.Join(", ", values.Select(v => v.ToString("0.00", CultureInfo.InvariantCulture)))}]";
    }
}
