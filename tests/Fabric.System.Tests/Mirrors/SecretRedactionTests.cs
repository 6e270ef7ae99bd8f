using System.Diagnostics;
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
/// </summary>
public sealed class SecretRedactionTests : IAsyncLifetime
{
    private const string Password = "Pw-7f2c9e41-never-print";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);
    private readonly string _dir = Directory.CreateTempSubdirectory("fs-secret-").FullName;
    private FakeRestconfRouter _router = null!;
    private FabricNodeHost _node = null!;

    public async Task InitializeAsync()
    {
        _router = await FakeRestconfRouter.StartAsync("fabric", Password);
        var secret = Path.Combine(_dir, "csr-password");
        File.WriteAllText(secret, Password + "\n");
        File.SetUnixFileMode(secret, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        _node = new FabricNodeHost($$"""
            akka.cluster.roles = [supervisor, site-csr]
            fabric.sites = [ { name = csr, backend = iosxe, url = "{{_router.Server.Url}}", user = fabric, secret-file = "{{secret}}",
                               fingerprint = "{{_router.Server.Fingerprint}}", audit-interval = 1s } ]
            fabric.mirror-agent.report-interval = 500ms
            """);
    }

    public async Task DisposeAsync()
    {
        _node.Dispose();
        await _router.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private async Task<string> Fabric(params string[] args)
    {
        var (code, stdout, stderr) = await _node.FabricAsync(args);
        Assert.True(code == 0, $"fabric {string.Join(' ', args)}: exit {code}: {stderr}");
        return stdout + stderr;
    }

    private async Task WaitForAsync(Func<Task<bool>> condition, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(sw.Elapsed < Wait, $"{what}: not within {Wait.TotalSeconds} s\n{_node.Output}");
            await Task.Delay(100);
        }
    }

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
}
