using System.Net;
using System.Net.Sockets;
using Fabric.Node.Tests.Infrastructure;
using Xunit;

namespace Fabric.Node.Tests.Configuration;

/// <summary>
/// Must show 5: a bad configuration makes fabric-node exit 2 with one line naming the HOCON
/// path, and nothing starts (ports stay free, no data directory or database is created).
/// </summary>
public sealed class BadConfigTests
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData("fabric.management.http.port = abc", "fabric.management.http.port: expected an integer 1-65535, got \"abc\"")]
    [InlineData("akka.cluster.roles = [capture, sniffer]", "akka.cluster.roles[1]: unknown role \"sniffer\"")]
    [InlineData("fabric.management.htpp.port = 9000", "fabric.management.htpp: unknown key")]
    [InlineData("fabric.persistence.provider = oracle", "fabric.persistence.provider: expected one of sqlite, postgresql, got \"oracle\"")]
    [InlineData("fabric.persistence.provider = postgresql", "fabric.persistence.postgresql.connection-string: required")]
    [InlineData("fabric.cluster.discovery.method = config", "akka.discovery.config.services.fabric.endpoints: ")]
    [InlineData("fabric.cluster.discovery.method = consul", "fabric.cluster.discovery.method: unknown discovery method \"consul\"")]
    [InlineData("akka.cluster.failure-detector.heartbeat-interval = soon", "akka.cluster.failure-detector.heartbeat-interval: expected a duration")]
    [InlineData("akka.cluster.split-brain-resolver.active-strategy = keep-everything", "akka.cluster.split-brain-resolver.active-strategy: expected one of")]
    public async Task Bad_value_exits_2_naming_the_path_and_starts_nothing(string badLine, string expectedStart)
    {
        using var node = new NodeProcess(badLine);

        var (exitCode, stdout, stderr) = await NodeProcess.RunToExitAsync(ExitTimeout, "--config", node.ConfigFile);

        Assert.Equal(2, exitCode);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("fabric-node: " + expectedStart, line, StringComparison.Ordinal);
        Assert.Equal(string.Empty, stdout);
        Assert.False(Directory.Exists(node.DataDirectory), "the data directory was created");
        Assert.True(NodeProcess.IsPortFree(node.RemotePort));
        Assert.True(NodeProcess.IsPortFree(node.ManagementPort));
    }

    [Fact]
    public async Task Missing_config_file_exits_2_naming_the_file()
    {
        var missing = Path.Combine(Path.GetTempPath(), "fo-missing-" + Guid.NewGuid().ToString("N") + ".conf");

        var (exitCode, _, stderr) = await NodeProcess.RunToExitAsync(ExitTimeout, "--config", missing);

        Assert.Equal(2, exitCode);
        Assert.Equal($"fabric-node: {missing}: config file not found", stderr.Trim());
    }

    [Fact]
    public async Task Management_port_in_use_exits_2_with_one_line_and_starts_nothing()
    {
        using var busy = new TcpListener(IPAddress.Loopback, 0);
        busy.Start();
        var port = ((IPEndPoint)busy.LocalEndpoint).Port;
        using var node = new NodeProcess(managementPort: port);

        var (exitCode, _, stderr) = await NodeProcess.RunToExitAsync(ExitTimeout, "--config", node.ConfigFile);

        Assert.Equal(2, exitCode);
        Assert.Equal($"fabric-node: fabric.management.http.port: 127.0.0.1:{port} is already in use", stderr.Trim());
        Assert.False(Directory.Exists(node.DataDirectory));
        Assert.True(NodeProcess.IsPortFree(node.RemotePort));
    }
}
