using System.Text;
using Fabric.Actors.Tests.Mirrors.Fakes;
using Xunit;

namespace Fabric.System.Tests.Mirrors;

/// <summary>
/// Issue 6 must-show 5, end to end: a real fabric-node with an iosxe site whose password is in a
/// secret file, against an in-process FAKE RESTCONF router (not a router). The session is defined
/// and applied from the real console; neither the password nor its basic-auth encoding appears
/// in `fabric mirrors show`, `fabric sites list` (table or JSON) nor in the node's log, also after
/// the router starts refusing the credentials.
///
/// Issue 8 scenario 8 (secrets), extended: the same node also requires a management token (from a
/// file) and has a proxmox site whose token secret (a sentinel) the FAKE PVE API refuses, so its
/// agent fails over and over; a second node is given a PostgreSQL connection string whose
/// password (a sentinel) the server refuses. None of the sentinels appears in any log line, console
/// output (table or JSON, success or error), management answer (<c>/node</c>, <c>/sites</c>, ...)
/// or error message.
/// </summary>
public sealed class SecretRedactionTests : IAsyncLifetime
{
    private const string Password = "Pw-7f2c9e41-never-print";
    private const string Token = "Tk-93b1e07a-never-print";
    private const string ProxmoxSecret = "Px-5d2a61c8-never-print";
    private const string PostgresPassword = "Pg-c41f8e2b-never-print";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly string _dir = Directory.CreateTempSubdirectory("fs-secret-").FullName;
    private FakeRestconfRouter _router = null!;
    private FakeProxmoxApi _proxmox = null!;
    private NodeProcess _node = null!;
    private string _tokenFile = null!;

    public async Task InitializeAsync()
    {
        _router = await FakeRestconfRouter.StartAsync("fabric", Password);
        // The fake PVE API accepts another secret than the one the node has: every call is a 401.
        _proxmox = await FakeProxmoxApi.StartAsync("fabric@pve!mirrors", "the-right-secret");
        var secret = PrivateFile("csr-password", Password);
        var pveSecret = PrivateFile("pve-token", ProxmoxSecret);
        _tokenFile = PrivateFile("management-token", Token);
        _node = new NodeProcess($$"""
            akka.cluster.roles = [supervisor, site-csr, site-pve]
            fabric.management.token-file = "{{_tokenFile}}"
            fabric.sites = [ { name = csr, backend = iosxe, url = "{{_router.Server.Url}}", user = fabric, secret-file = "{{secret}}",
                               fingerprint = "{{_router.Server.Fingerprint}}", audit-interval = 1s }
                             { name = pve, backend = proxmox, url = "{{_proxmox.Server.Url}}", user = "fabric@pve!mirrors", secret-file = "{{pveSecret}}",
                               fingerprint = "{{_proxmox.Server.Fingerprint}}", audit-interval = 1s, nodes { pve1 = "tcp:127.0.0.1:{{NodeProcess.FreePort()}}" } } ]
            fabric.mirror-agent.report-interval = 500ms
            """).Start();
    }

    public async Task DisposeAsync()
    {
        _node.Dispose();
        await _router.DisposeAsync();
        await _proxmox.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private string PrivateFile(string name, string content)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, content + "\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }

    private async Task<string> Fabric(params string[] args)
    {
        var (code, stdout, stderr) = await _node.FabricAsync([.. args, "--token-file", _tokenFile]);
        Assert.True(code == 0, $"fabric {string.Join(' ', args)}: exit {code}: {stderr}");
        return stdout + stderr;
    }

    /// <summary>A console command expected to fail: its (one-line) error output.</summary>
    private async Task<string> FabricFails(params string[] args)
    {
        var (code, stdout, stderr) = await _node.FabricAsync(args);
        Assert.True(code != 0, $"fabric {string.Join(' ', args)} should have failed: {stdout}");
        Assert.NotEqual("", stderr.Trim());
        return stdout + stderr;
    }

    private Task WaitForAsync(Func<Task<bool>> condition, string what) =>
        global::Fabric.Tests.Wait.UntilAsync(condition, Wait, () => $"{what}\n{_node.Output}");

    [Fact]
    public async Task Password_never_appears_in_mirrors_show_sites_list_or_the_node_log()
    {
        await _node.WaitReadyAsync(TimeSpan.FromSeconds(60));
        await WaitForAsync(async () => (await _node.FabricAsync("mirrors", "list")).Code == 0, "mirror supervision started");
        await Fabric("mirrors", "add", "csr-uplink", "--site", "csr", "--backend", "iosxe", "--source", "GigabitEthernet1", "--output", "10.0.0.5",
            "--session-number", "1", "--erspan-id", "100", "--origin-ip", "10.0.0.1", "--mtu", "1464");
        await WaitForAsync(() => Task.FromResult(_router.Has(1)), "session 1 on the fake router");
        await WaitForAsync(async () => (await Fabric("mirrors", "show", "csr-uplink")).Contains("healthy", StringComparison.Ordinal), "csr-uplink healthy");

        var outputs = new StringBuilder();
        var show = await Fabric("mirrors", "show", "csr-uplink");
        Assert.Contains("erspan-id", show, StringComparison.Ordinal);
        outputs.AppendLine(show).AppendLine(await Fabric("mirrors", "show", "csr-uplink", "--json"));
        var sites = await Fabric("sites", "list");
        Assert.Contains("(redacted)", sites, StringComparison.Ordinal);
        Assert.Contains("reachable", sites, StringComparison.Ordinal);
        outputs.AppendLine(sites).AppendLine(await Fabric("sites", "list", "--json"));

        var basic = Convert.ToBase64String(Encoding.UTF8.GetBytes("fabric:" + Password));
        foreach (var text in new[] { outputs.ToString(), _node.Output })
        {
            Assert.DoesNotContain(Password, text, StringComparison.Ordinal);
            Assert.DoesNotContain(basic, text, StringComparison.Ordinal);
        }

        Assert.Contains("repair of csr-uplink", _node.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_secret_of_any_kind_appears_in_logs_console_output_management_answers_or_errors()
    {
        await _node.WaitReadyAsync(TimeSpan.FromSeconds(60));
        await WaitForAsync(async () => (await _node.FabricAsync("mirrors", "list")).Code == 0, "mirror supervision started");
        await Fabric("mirrors", "add", "csr-uplink", "--site", "csr", "--backend", "iosxe", "--source", "GigabitEthernet1", "--output", "10.0.0.5",
            "--session-number", "1", "--erspan-id", "100", "--origin-ip", "10.0.0.1", "--mtu", "1464");
        await Fabric("mirrors", "add", "pve-mirror", "--site", "pve", "--bridge", "vmbr1", "--source", "vm:101/net1", "--output", "vm:103/net1");
        await WaitForAsync(() => Task.FromResult(_proxmox.Unauthorized >= 2), "the proxmox agent refused twice by the PVE API");
        await WaitForAsync(async () => (await Fabric("sites", "list")).Contains("unreachable", StringComparison.Ordinal), "site pve shown unreachable");

        var seen = new StringBuilder();
        foreach (var args in new[]
                 {
                     new[] { "mirrors", "list" }, ["mirrors", "list", "--json"], ["mirrors", "show", "csr-uplink"], ["mirrors", "show", "pve-mirror", "--json"],
                     ["mirrors", "history", "pve-mirror"], ["mirrors", "history", "csr-uplink", "--json"], ["sites", "list"], ["sites", "list", "--json"],
                     ["cluster", "members"], ["cluster", "members", "--json"], ["mirrors", "repair", "pve-mirror"],
                 })
        {
            seen.AppendLine(await Fabric(args));
        }

        // Errors: no token, a wrong token, an unknown session, a bad definition.
        seen.AppendLine(await FabricFails("mirrors", "remove", "csr-uplink"));
        File.WriteAllText(Path.Combine(_dir, "wrong-token"), "not-" + Token);
        File.SetUnixFileMode(Path.Combine(_dir, "wrong-token"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        seen.AppendLine(await FabricFails("cluster", "leave", _node.Address, "--token-file", Path.Combine(_dir, "wrong-token")));
        seen.AppendLine(await FabricFails("mirrors", "show", "no-such-session", "--token-file", _tokenFile));
        seen.AppendLine(await FabricFails("mirrors", "add", "bad", "--site", "pve", "--backend", "nonsense", "--source", "x", "--output", "y", "--token-file", _tokenFile));

        // The management API itself.
        using (var http = _node.Http())
        {
            foreach (var path in new[] { "node", "sites", "mirrors", "mirrors/pve-mirror", "mirrors/pve-mirror/history", "cluster/members", "metrics", "alive", "ready", "nope" })
            {
                using var response = await http.GetAsync(path);
                seen.AppendLine(await response.Content.ReadAsStringAsync());
            }
        }

        var outputs = seen.ToString();
        Assert.Contains("(redacted)", outputs, StringComparison.Ordinal);
        Assert.Contains("401", outputs, StringComparison.Ordinal);
        AssertNoSentinel(outputs, "console and management answers");
        AssertNoSentinel(_node.Output, "the node's log");
    }

    [Fact]
    public async Task A_database_password_refused_by_PostgreSQL_is_not_in_the_error_or_the_log()
    {
        var connection = PrivateFile("postgres", $"Host=127.0.0.1;Port=5432;Database=fph_secret;Username=fph_nobody;Password={PostgresPassword};Timeout=3");
        using var node = new NodeProcess($$"""
            fabric.persistence { provider = postgresql, postgresql.connection-string-file = "{{connection}}", warm-up-timeout = 5s }
            """).Start();

        await WaitForAsync(() => Task.FromResult(node.HasExited), "fabric-node to give up on the database");

        Assert.Contains("fabric.persistence", node.Output, StringComparison.Ordinal);
        AssertNoSentinel(node.Output, "the log of a node whose database refused it");
    }

    private static void AssertNoSentinel(string text, string where)
    {
        foreach (var sentinel in new[] { Password, Token, ProxmoxSecret, PostgresPassword })
        {
            Assert.False(text.Contains(sentinel, StringComparison.Ordinal), $"{where} contains the secret {sentinel}:\n{text}");
        }

        Assert.DoesNotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes("fabric:" + Password)), text, StringComparison.Ordinal);
    }
}
