using Fabric.Node.Tests.Infrastructure;
using Xunit;

namespace Fabric.Node.Tests.Configuration;

/// <summary>
/// Issue 8 scenario 8 (secrets): a file holding a secret (management token, PostgreSQL connection
/// string, a Proxmox token secret or RESTCONF password) that others may read or write makes
/// fabric-node exit 2 with one line naming the key and the file, before anything starts; the
/// secret itself is not printed. Group access is allowed (root:fabric 0640).
/// </summary>
[Collection(NodeProcessCollection.Name)]
public sealed class SecretFileModeTests
{
    private const string Sentinel = "fph-sentinel-0c4e7d";
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(30);

    public static TheoryData<string, string, UnixFileMode> Refused => new()
    {
        { "token", "fabric.management.token-file = \"@FILE\"", UnixFileMode.OtherRead },
        { "token", "fabric.management.token-file = \"@FILE\"", UnixFileMode.OtherWrite },
        { "postgres", "fabric.persistence { provider = postgresql, postgresql.connection-string-file = \"@FILE\" }", UnixFileMode.OtherRead },
        { "proxmox", "fabric.sites = [ { name = pve, backend = proxmox, url = \"https://127.0.0.1:8006\", user = \"fabric@pve!m\", secret-file = \"@FILE\" } ]", UnixFileMode.OtherRead },
        { "iosxe", "fabric.sites = [ { name = csr, backend = iosxe, url = \"https://127.0.0.1:443\", user = fabric, secret-file = \"@FILE\" } ]", UnixFileMode.OtherRead },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task A_secret_file_others_can_read_or_write_exits_2_naming_the_file(string kind, string line, UnixFileMode other)
    {
        using var node = new NodeProcess();
        var secret = WriteSecret(node.Directory, kind, UnixFileMode.UserRead | UnixFileMode.UserWrite | other);
        File.AppendAllText(node.ConfigFile, "\n" + line.Replace("@FILE", secret, StringComparison.Ordinal) + "\n");

        var (exitCode, stdout, stderr) = await NodeProcess.RunToExitAsync(ExitTimeout, "--config", node.ConfigFile);

        Assert.Equal(2, exitCode);
        var error = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("fabric-node: fabric.", error, StringComparison.Ordinal);
        Assert.Contains($"secret file \"{secret}\" is readable or writable by others", error, StringComparison.Ordinal);
        Assert.Contains("chmod o-rw", error, StringComparison.Ordinal);
        Assert.DoesNotContain(Sentinel, stdout + stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(node.DataDirectory), "the data directory was created");
        Assert.True(NodeProcess.IsPortFree(node.ManagementPort));
    }

    [Fact]
    public async Task A_group_readable_token_file_is_accepted()
    {
        using var node = new NodeProcess();
        var secret = WriteSecret(node.Directory, "token", UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead);
        File.AppendAllText(node.ConfigFile, $"\nfabric.management.token-file = \"{secret}\"\n");

        node.Start();
        await node.WaitReadyAsync(TimeSpan.FromSeconds(60));

        Assert.DoesNotContain(Sentinel, node.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_inline_in_a_config_others_can_read_starts_with_one_warning_naming_the_file()
    {
        using var node = new NodeProcess();
        File.AppendAllText(node.ConfigFile, $"\nfabric.management.token = \"{Sentinel}\"\n");
        File.SetUnixFileMode(node.ConfigFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        node.Start();
        await node.WaitReadyAsync(TimeSpan.FromSeconds(60));

        var warning = Assert.Single(node.Output.Split('\n'), l => l.Contains("warning: fabric.management.token", StringComparison.Ordinal));
        Assert.Contains($"is written in {node.ConfigFile}, which other users can read (mode 644)", warning, StringComparison.Ordinal);
        Assert.DoesNotContain(Sentinel, node.Output, StringComparison.Ordinal);
    }

    private static string WriteSecret(string directory, string kind, UnixFileMode mode)
    {
        var path = Path.Combine(directory, "secret-" + kind);
        File.WriteAllText(path, kind == "postgres" ? $"Host=127.0.0.1;Database=fph;Username=fph;Password={Sentinel}\n" : Sentinel + "\n");
        File.SetUnixFileMode(path, mode);
        return path;
    }
}
