using System.Diagnostics;
using System.Net;

namespace Fabric.System.Tests.Deploy;

/// <summary>
/// Must show 4: deploy/deb/build-deb.sh builds the .deb; it installs with dpkg on this machine; the
/// installed unit's ExecStart line, run as the unit's User= (no systemd needed), starts a node that
/// answers /ready; SIGTERM by pid stops it; <c>dpkg -r</c> and <c>--purge</c> leave nothing behind.
/// </summary>
[Collection(DebCollection.Name)]
public sealed class DebPackageTests(DebPackageFixture deb)
{
    private const string UnitFile = "/lib/systemd/system/fabric-node.service";

    [Fact]
    public void Package_holds_both_executables_the_unit_and_the_default_config_as_a_conffile()
    {
        Assert.True(deb.BuildResult.ExitCode == 0, deb.BuildResult.ToString());

        var fields = Run.Process("dpkg-deb", "-f", deb.Package, "Package", "Version", "Architecture");
        Assert.Equal($"Package: fabric\nVersion: {DebPackageFixture.Version}\nArchitecture: amd64\n", fields.Stdout);
        Assert.Equal("/etc/fabric/fabric.conf\n", Run.Process("dpkg-deb", "-I", deb.Package, "conffiles").Stdout);

        var contents = Run.Process("dpkg-deb", "-c", deb.Package).Stdout;
        Assert.Contains(" ./usr/lib/fabric/node/fabric-node\n", contents, StringComparison.Ordinal);
        Assert.Contains(" ./usr/lib/fabric/console/fabric\n", contents, StringComparison.Ordinal);
        Assert.Contains(" ./usr/bin/fabric-node -> ../lib/fabric/node/fabric-node\n", contents, StringComparison.Ordinal);
        Assert.Contains(" ./usr/bin/fabric -> ../lib/fabric/console/fabric\n", contents, StringComparison.Ordinal);
        Assert.Contains(" ." + UnitFile + "\n", contents, StringComparison.Ordinal);
        // No .NET needed on the sensor: the node is self-contained (the runtime itself is inside); the console is the
        // NativeAOT executable of scripts/publish-console.sh, alone in its directory (no runtime, no assemblies).
        Assert.Contains(" ./usr/lib/fabric/node/libcoreclr.so\n", contents, StringComparison.Ordinal);
        Assert.Equal(["./usr/lib/fabric/console/", "./usr/lib/fabric/console/fabric"],
            contents.Split('\n').Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? "")
                .Where(path => path.StartsWith("./usr/lib/fabric/console/", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Installed_unit_ExecStart_answers_ready_then_remove_and_purge_leave_nothing()
    {
        Assert.True(deb.BuildResult.ExitCode == 0, deb.BuildResult.ToString());
        var config = Directory.CreateTempSubdirectory("fp-deb-run-").FullName;
        Process? node = null;
        try
        {
            Dpkg("-i", deb.Package);
            Assert.Equal($"install ok installed {DebPackageFixture.Version}", Run.Process("dpkg-query", "-W", "-f=${Status} ${Version}", "fabric").Stdout.Trim());
            Assert.True(File.Exists("/etc/fabric/fabric.conf"));
            Assert.Equal("fabric:fabric", Run.Process("stat", "-c", "%U:%G", "/var/lib/fabric").Stdout.Trim());

            var unit = UnitSettings(File.ReadAllLines(UnitFile));
            Assert.Equal("notify", unit["Type"]);
            Assert.Equal("on-failure", unit["Restart"]);
            Assert.Equal("CAP_NET_RAW CAP_NET_ADMIN", unit["AmbientCapabilities"]);
            Assert.Equal("CAP_NET_RAW CAP_NET_ADMIN", unit["CapabilityBoundingSet"]);
            Assert.Equal("fabric", unit["User"]);

            // The unit's own command line, plus one --config for free ports, as the unit's user.
            var managementPort = Run.FreePort();
            var overrides = Path.Combine(config, "ports.conf");
            File.WriteAllText(overrides, $"fabric.management.http.port = {managementPort}\nakka.remote.dot-netty.tcp.port = {Run.FreePort()}\n");
            File.SetUnixFileMode(config, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
            File.SetUnixFileMode(overrides, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            var start = new ProcessStartInfo("setpriv")
            {
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                WorkingDirectory = unit["WorkingDirectory"],
            };
            foreach (var argument in (string[])["--reuid", unit["User"], "--regid", unit["Group"], "--init-groups", "--", .. unit["ExecStart"].Split(' ', StringSplitOptions.RemoveEmptyEntries), "--config", overrides])
            {
                start.ArgumentList.Add(argument);
            }

            start.Environment["HOME"] = unit["WorkingDirectory"];
            var output = new global::System.Text.StringBuilder();
            node = Process.Start(start)!;
            node.OutputDataReceived += (_, e) => { lock (output) { output.Append(e.Data).Append('\n'); } };
            node.ErrorDataReceived += (_, e) => { lock (output) { output.Append(e.Data).Append('\n'); } };
            node.BeginOutputReadLine();
            node.BeginErrorReadLine();

            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{managementPort}/"), Timeout = TimeSpan.FromSeconds(5) };
            await Run.UntilAsync(
                async () => !node.HasExited && (await http.GetAsync(new Uri("ready", UriKind.Relative))).StatusCode == HttpStatusCode.OK,
                TimeSpan.FromMinutes(2),
                () => $"/ready of the installed fabric-node (exited: {node.HasExited}); output:\n{Locked(output)}");
            var uid = Run.Process("id", "-u", "fabric").Stdout.Trim();
            Assert.Contains(File.ReadAllLines($"/proc/{node.Id}/status"), line => line.StartsWith("Uid:\t" + uid + "\t", StringComparison.Ordinal));
            Assert.True(File.Exists("/var/lib/fabric/fabric.db"), "the node keeps its journal in /var/lib/fabric");

            Assert.Equal(0, Run.Process("kill", "-TERM", node.Id.ToString(global::System.Globalization.CultureInfo.InvariantCulture)).ExitCode);
            Assert.True(node.WaitForExit(TimeSpan.FromSeconds(60)), "fabric-node did not stop within 60 s of SIGTERM");
            node.WaitForExit();
            Assert.True(node.ExitCode == 0, $"exit {node.ExitCode}:\n{Locked(output)}");

            Dpkg("-r", "fabric");
            Assert.False(Directory.Exists("/usr/lib/fabric"), "dpkg -r left /usr/lib/fabric");
            Assert.False(File.Exists("/usr/bin/fabric") || File.Exists("/usr/bin/fabric-node") || File.Exists(UnitFile));
            Assert.True(File.Exists("/etc/fabric/fabric.conf"), "remove keeps the conffile (purge deletes it)");

            Dpkg("--purge", "fabric");
            Assert.False(Directory.Exists("/etc/fabric"));
            Assert.False(Directory.Exists("/var/lib/fabric"));
            Assert.NotEqual(0, Run.Process("getent", "passwd", "fabric").ExitCode);
            Assert.NotEqual(0, Run.Process("dpkg-query", "-W", "fabric").ExitCode);
        }
        finally
        {
            if (node is { HasExited: false })
            {
                node.Kill();
            }

            node?.Dispose();
            if (Run.Process("dpkg-query", "-W", "-f=${Version}", "fabric").Stdout.Trim() == DebPackageFixture.Version)
            {
                Dpkg("--purge", "fabric");
            }

            Directory.Delete(config, recursive: true);
        }
    }

    /// <summary>Runs dpkg; while another dpkg or apt holds the lock, waits (up to 10 minutes) and tries again.</summary>
    private static void Dpkg(params string[] arguments)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(10);
        while (true)
        {
            var run = Run.Process("dpkg", TimeSpan.FromMinutes(5), arguments);
            if (run.ExitCode == 0)
            {
                return;
            }

            if (!run.Stderr.Contains("lock", StringComparison.OrdinalIgnoreCase) || DateTime.UtcNow > deadline)
            {
                Assert.Fail($"dpkg {string.Join(' ', arguments)}: {run}");
            }

            Thread.Sleep(TimeSpan.FromSeconds(1)); // another package manager holds the lock: poll it
        }
    }

    /// <summary>The [Service] keys of a unit file (last value wins, as in systemd).</summary>
    internal static Dictionary<string, string> UnitSettings(string[] lines)
    {
        var settings = new Dictionary<string, string>(StringComparer.Ordinal);
        var section = "";
        foreach (var raw in lines)
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] is '#' or ';')
            {
                continue;
            }

            if (line[0] == '[')
            {
                section = line;
                continue;
            }

            var equals = line.IndexOf('=', StringComparison.Ordinal);
            if (section == "[Service]" && equals > 0)
            {
                settings[line[..equals]] = line[(equals + 1)..];
            }
        }

        return settings;
    }

    private static string Locked(global::System.Text.StringBuilder builder)
    {
        lock (builder)
        {
            return builder.ToString();
        }
    }
}
