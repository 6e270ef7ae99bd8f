using System.Net;
using System.Text;
using Fabric.Node.Tests.Infrastructure;
using Xunit;

namespace Fabric.Node.Tests.Security;

/// <summary>
/// Issue 8 scenario 8, with real fabric-node processes: management HTTP on anything but loopback
/// needs a token (a node without one refuses to start: exit 2, one line naming
/// fabric.management.token / token-file, nothing started); files holding secrets (the token file,
/// TLS private keys, PKCS#12 files and their password files) are refused when others may read or
/// write them.
/// </summary>
public sealed class ManagementExposureTests
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("::")]
    [InlineData("sensor-1.example")]
    public async Task Management_on_a_non_loopback_address_without_a_token_refuses_to_start(string host)
    {
        using var node = new NodeProcess($"fabric.management.http.host = \"{host}\"");

        var (exitCode, stdout, stderr) = await NodeProcess.RunToExitAsync(ExitTimeout, "--config", node.ConfigFile);

        Assert.Equal(2, exitCode);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"fabric-node: fabric.management.token: required because fabric.management.http.host ({host}) is not a loopback address", line, StringComparison.Ordinal);
        Assert.Contains("fabric.management.token-file", line, StringComparison.Ordinal);
        Assert.Equal(string.Empty, stdout);
        // The data directory is made by the last check before the actor system and Kestrel start:
        // absent, nothing was started (free-port probes would race with other tests' connections).
        Assert.False(Directory.Exists(node.DataDirectory), "the data directory was created");
    }

    [Fact]
    public async Task Management_on_every_interface_with_a_token_file_starts_and_mutations_need_the_token()
    {
        using var node = new NodeProcess("fabric.management.http.host = 0.0.0.0");
        var tokenFile = Path.Combine(node.Directory, "token");
        File.WriteAllText(tokenFile, "fpt-token-91c2\n");
        File.SetUnixFileMode(tokenFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        File.AppendAllText(node.ConfigFile, $"\nfabric.management.token-file = \"{tokenFile}\"\n");
        node.Start();
        await node.WaitReadyAsync(TimeSpan.FromSeconds(90));

        using var http = node.Http();
        using var body = new StringContent($$"""{"address":"{{node.Address}}"}""", Encoding.UTF8, "application/json");
        using var refused = await http.PostAsync(new Uri("cluster/leave", UriKind.Relative), body);

        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal(1, await node.UpCountAsync());
    }

    [Theory]
    [InlineData("token-file")]
    [InlineData("remote-key-file")]
    [InlineData("remote-pfx")]
    [InlineData("remote-password-file")]
    [InlineData("management-key-file")]
    public async Task A_secret_file_readable_by_others_is_refused_at_start(string which)
    {
        using var certificates = new TestCertificates();
        var ca = certificates.CreateAuthority("fabric-ca");
        var (certificate, key) = certificates.CreateNode("node", "fabric-ca");
        var (pfx, password) = certificates.CreatePfx("node", certificate, key, "pfx pass");
        var tokenFile = certificates.Path("token");
        File.WriteAllText(tokenFile, "fpt-token\n");
        File.SetUnixFileMode(tokenFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var (exposed, config, path) = which switch
        {
            "token-file" => (tokenFile, $"fabric.management.token-file = \"{tokenFile}\"", "fabric.management.token-file"),
            "remote-key-file" => (key, RemoteTlsFixture.Tls(certificate, key, "", ca), "fabric.remote.tls.key-file"),
            "remote-pfx" => (pfx, RemoteTlsFixture.Tls(pfx, "", password, ca), "fabric.remote.tls.certificate-file"),
            "remote-password-file" => (password, RemoteTlsFixture.Tls(pfx, "", password, ca), "fabric.remote.tls.password-file"),
            "management-key-file" => (key, $"fabric.management.http.tls {{ certificate-file = \"{certificate}\", key-file = \"{key}\" }}", "fabric.management.http.tls.key-file"),
            _ => throw new ArgumentOutOfRangeException(nameof(which)),
        };
        using var node = new NodeProcess(config);

        // Private (0600): the node starts far enough to pass the check (it is stopped right away).
        var privateRun = await StartsAsync(node, ca);
        File.SetUnixFileMode(exposed, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        var (exitCode, _, stderr) = await NodeProcess.RunToExitAsync(ExitTimeout, "--config", node.ConfigFile);

        Assert.True(privateRun, "the node did not start with the file at mode 0600");
        Assert.Equal(2, exitCode);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal($"fabric-node: {path}: secret file \"{exposed}\" is readable or writable by others (mode 644); chmod o-rw it", line);
    }

    /// <summary>Starts the node and waits for /alive (its settings, files included, were accepted), then kills it.</summary>
    private static async Task<bool> StartsAsync(NodeProcess node, string caFile)
    {
        node.Start();
        var scheme = File.ReadAllText(node.ConfigFile).Contains("http.tls", StringComparison.Ordinal) ? "https" : "http";
        using var http = TestCertificates.HttpsClient(caFile);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < deadline && !node.HasExited)
        {
            try
            {
                using var response = await http.GetAsync(new Uri($"{scheme}://127.0.0.1:{node.ManagementPort}/alive"));
                if (response.IsSuccessStatusCode)
                {
                    node.KillHard();
                    await node.WaitForExitAsync(TimeSpan.FromSeconds(10));
                    return true;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet: poll again.
            }
            catch (TaskCanceledException)
            {
                // Slow first answer: poll again.
            }

            await Task.Delay(200);
        }

        return false;
    }
}
