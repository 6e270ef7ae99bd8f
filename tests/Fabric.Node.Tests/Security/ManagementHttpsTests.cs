using System.Net;
using System.Text.Json;
using Fabric.Node.Tests.Infrastructure;
using Xunit;

namespace Fabric.Node.Tests.Security;

/// <summary>
/// Issue 8 scenario 8, management HTTPS: a real node serving management over HTTPS
/// (<c>fabric.management.http.tls</c>, certificate signed by a test CA); the real <c>fabric</c>
/// console's <c>--json</c> command works over https with <c>--ca-file</c> (or FABRIC_CA_FILE) and
/// fails with one clear line without it or with another CA; validation is never switched off.
/// </summary>
[Collection(NodeProcessCollection.Name)]
public sealed class ManagementHttpsTests(ManagementHttpsTests.HttpsNode https) : IClassFixture<ManagementHttpsTests.HttpsNode>
{
    [Fact]
    public async Task Console_json_command_works_over_https_with_the_CA_file()
    {
        var (exit, stdout, stderr) = await ConsoleProcess.RunAsync(null, "cluster", "members", "--json", "--node", https.Url, "--ca-file", https.CaFile);

        Assert.True(exit == 0, $"exit {exit}: {stderr}");
        using var members = JsonDocument.Parse(stdout);
        Assert.Equal(https.Node.Address, members.RootElement.GetProperty("self").GetString());
        Assert.Equal("Up", members.RootElement.GetProperty("members")[0].GetProperty("status").GetString());

        var (envExit, envStdout, envStderr) = await ConsoleProcess.RunAsync(
            new Dictionary<string, string> { ["FABRIC_CA_FILE"] = https.CaFile, ["FABRIC_NODE"] = https.Url }, "cluster", "members", "--json");
        Assert.True(envExit == 0, $"exit {envExit}: {envStderr}");
        Assert.Equal(stdout, envStdout);
    }

    [Fact]
    public async Task Console_without_the_CA_file_fails_with_one_line_naming_the_fix()
    {
        var (exit, stdout, stderr) = await ConsoleProcess.RunAsync(null, "cluster", "members", "--json", "--node", https.Url);

        Assert.Equal(1, exit);
        Assert.Equal(string.Empty, stdout);
        Assert.Equal(
            $"fabric: cannot reach node {https.Url}: its TLS certificate is not trusted by the system store; give the CA that signed it with --ca-file (or FABRIC_CA_FILE)",
            Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }

    [Fact]
    public async Task Console_with_another_CA_file_fails_with_one_line()
    {
        var other = https.Certificates.CreateAuthority("other-ca");

        var (exit, stdout, stderr) = await ConsoleProcess.RunAsync(null, "cluster", "members", "--json", "--node", https.Url, "--ca-file", other);

        Assert.Equal(1, exit);
        Assert.Equal(string.Empty, stdout);
        Assert.Equal(
            $"fabric: cannot reach node {https.Url}: its TLS certificate does not match the host name or does not chain to --ca-file {other}",
            Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
    }

    [Fact]
    public async Task Plain_http_is_not_served_on_the_https_port()
    {
        using var http = https.Node.Http();

        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync(new Uri("alive", UriKind.Relative)));
    }

    [Fact]
    public async Task Nodes_with_https_management_form_a_cluster_through_bootstrap_when_the_CA_is_in_SSL_CERT_FILE()
    {
        // Cluster Bootstrap probes the other nodes' /bootstrap/seed-nodes over https and trusts the
        // system store; SSL_CERT_FILE (as the operator guide says, in the unit) makes that the CA.
        var ports = new[] { NodeProcess.FreePort(), NodeProcess.FreePort() };
        var (certificate, key) = https.Certificates.CreateNode("bootstrap", "fabric-ca");
        var config = $$"""
            fabric.cluster.discovery { method = config, required-contact-points = 2, stable-margin = 1s }
            akka.discovery.config.services.fabric.endpoints = ["127.0.0.1:{{ports[0]}}", "127.0.0.1:{{ports[1]}}"]
            fabric.management.http.tls { certificate-file = "{{certificate}}", key-file = "{{key}}" }
            """;
        using var a = new NodeProcess(config, managementPort: ports[0]);
        using var b = new NodeProcess(config, managementPort: ports[1]);
        using var http = TestCertificates.HttpsClient(https.CaFile);
        foreach (var node in new[] { a, b })
        {
            node.Environment["SSL_CERT_FILE"] = https.CaFile;
            node.Start();
        }

        foreach (var node in new[] { a, b })
        {
            var members = new Uri($"https://127.0.0.1:{node.ManagementPort}/cluster/members");
            await node.WaitUntilAsync(
                async _ =>
                {
                    using var doc = JsonDocument.Parse(await http.GetStringAsync(members));
                    return doc.RootElement.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("status").GetString() == "Up") == 2;
                },
                TimeSpan.FromSeconds(120),
                "2 members Up through Cluster Bootstrap over https");
        }

        // The node logs its management URL once it has joined and read its history: that can be a
        // moment after the other node already counts it Up.
        await a.WaitUntilAsync(node => Task.FromResult(node.Output.Contains("management https://127.0.0.1:", StringComparison.Ordinal)), TimeSpan.FromSeconds(30), "the startup line");
        Assert.Contains("management https://127.0.0.1:", a.Output, StringComparison.Ordinal);
    }

    /// <summary>One node serving management over HTTPS with a PEM certificate and key of a test CA.</summary>
    public sealed class HttpsNode : IAsyncLifetime
    {
        public TestCertificates Certificates { get; } = new();

        public NodeProcess Node { get; private set; } = null!;

        public string CaFile { get; private set; } = "";

        public string Url => $"https://127.0.0.1:{Node.ManagementPort}/";

        public async Task InitializeAsync()
        {
            CaFile = Certificates.CreateAuthority("fabric-ca");
            var (certificate, key) = Certificates.CreateNode("management", "fabric-ca");
            Node = new NodeProcess($"fabric.management.http.tls {{ certificate-file = \"{certificate}\", key-file = \"{key}\" }}").Start();
            using var http = TestCertificates.HttpsClient(CaFile);
            var ready = new Uri(Url + "ready");
            await Node.WaitUntilAsync(
                async _ =>
                {
                    using var response = await http.GetAsync(ready);
                    return response.StatusCode == HttpStatusCode.OK;
                },
                TimeSpan.FromSeconds(90),
                "/ready over https");
        }

        public Task DisposeAsync()
        {
            Node?.Dispose();
            Certificates.Dispose();
            return Task.CompletedTask;
        }
    }
}
