using Fabric.Node.Tests.Infrastructure;
using Xunit;

namespace Fabric.Node.Tests.Security;

/// <summary>
/// Two fabric-node processes on loopback with <c>fabric.remote.tls</c>: certificates signed by
/// one CA (node a from PEM files, node b from a password-protected PKCS#12), finding each other
/// through Cluster Bootstrap. Started once for <see cref="RemoteTlsTests"/>; killed by pid at the end.
/// </summary>
public sealed class RemoteTlsFixture : IAsyncLifetime
{
    public TestCertificates Certificates { get; } = new();

    public NodeProcess A { get; private set; } = null!;

    public NodeProcess B { get; private set; } = null!;

    /// <summary>The Cluster Bootstrap settings every node of the test uses: the management endpoints of a and b.</summary>
    public string Discovery { get; private set; } = "";

    public string CaFile { get; private set; } = "";

    /// <summary>The CA's CRL that a and b use (empty at start; <see cref="RemoteTlsTests"/> revokes a certificate).</summary>
    public string CrlFile { get; private set; } = "";

    public Task InitializeAsync()
    {
        CaFile = Certificates.CreateAuthority("fabric-ca");
        CrlFile = Certificates.CreateCrl("fabric-ca");
        var a = Certificates.CreateNode("node-a", "fabric-ca");
        var b = Certificates.CreateNode("node-b", "fabric-ca");
        var (pfx, password) = Certificates.CreatePfx("node-b", b.Certificate, b.Key, "b pass word");

        var ports = new[] { NodeProcess.FreePort(), NodeProcess.FreePort() };
        Discovery = $$"""
            fabric.cluster.discovery { method = config, required-contact-points = 2, stable-margin = 1s }
            akka.discovery.config.services.fabric.endpoints = ["127.0.0.1:{{ports[0]}}", "127.0.0.1:{{ports[1]}}"]
            akka.cluster.failure-detector.acceptable-heartbeat-pause = 3s
            """;
        A = new NodeProcess(Discovery + Tls(a.Certificate, a.Key, "", CaFile, CrlFile), managementPort: ports[0]).Start();
        B = new NodeProcess(Discovery + Tls(pfx, "", password, CaFile, CrlFile), managementPort: ports[1]).Start();
        return Task.CompletedTask;
    }

    /// <summary>A <c>fabric.remote.tls</c> section.</summary>
    public static string Tls(string certificate, string key, string passwordFile, string caFile, string crlFile = "") => $$"""

        fabric.remote.tls {
          enabled = true
          certificate-file = "{{certificate}}"
          key-file = "{{key}}"
          password-file = "{{passwordFile}}"
          ca-file = "{{caFile}}"
          crl-file = "{{crlFile}}"
        }
        """;

    public Task DisposeAsync()
    {
        A?.Dispose();
        B?.Dispose();
        Certificates.Dispose();
        return Task.CompletedTask;
    }
}
