using Fabric.Node.Tests.Infrastructure;
using Xunit;

namespace Fabric.Node.Tests.Cluster;

/// <summary>
/// Three fabric-node processes on loopback that find each other through Cluster Bootstrap with
/// config discovery (no seed nodes anywhere), with a management token set. Started once for the
/// tests of <see cref="ThreeNodeClusterTests"/>; every process is killed by pid at the end.
/// </summary>
public sealed class ThreeNodeClusterFixture : IAsyncLifetime
{
    public const string Token = "fo-test-token-3f9a";

    public IReadOnlyList<NodeProcess> Nodes { get; private set; } = [];

    public Task InitializeAsync()
    {
        var ports = Enumerable.Range(0, 3).Select(_ => NodeProcess.FreePort()).ToArray();
        var endpoints = string.Join(", ", ports.Select(p => $"\"127.0.0.1:{p}\""));
        var config = $$"""
            fabric.cluster.discovery { method = config, required-contact-points = 3, stable-margin = 1s }
            akka.discovery.config.services.fabric.endpoints = [{{endpoints}}]
            fabric.management.token = "{{Token}}"
            akka.cluster.roles = [capture]
            # CI machines are small and busy: a little more tolerance than the production 1.5 s,
            # so a loaded test host is not mistaken for a dead node while the cluster forms.
            akka.cluster.failure-detector.acceptable-heartbeat-pause = 3s
            """;
        Nodes = ports.Select(p => new NodeProcess(config, managementPort: p).Start()).ToList();
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            node.Dispose();
        }

        return Task.CompletedTask;
    }
}
