using System.Globalization;
using Fabric.Node.Tests.Infrastructure;
using Xunit;

namespace Fabric.Node.Tests.Security;

/// <summary>
/// Issue 8 scenario 8, remoting over TLS with real fabric-node processes: two nodes whose
/// certificates come from the same CA form a cluster of 2 Up over <c>akka.ssl.tcp</c>; a node
/// whose certificate comes from another CA, or is self-signed, or comes from the same CA but is
/// revoked in the CRL the nodes use (the file is replaced while they run: no restart), never
/// becomes a member, and the refusing node logs that certificate once while it keeps refusing
/// (counted in /metrics).
/// </summary>
[Collection(NodeProcessCollection.Name)]
[TestCaseOrderer(StepOrderer.TypeName, StepOrderer.AssemblyName)]
public sealed class RemoteTlsTests(RemoteTlsFixture cluster) : IClassFixture<RemoteTlsFixture>
{
    private const string RefusedLine = "Refused remoting TLS peer";
    private static readonly TimeSpan FormTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan ObserveWindow = TimeSpan.FromSeconds(20);

    [Fact]
    [Step(Number = 1)]
    public async Task Nodes_with_certificates_of_the_same_CA_form_a_cluster_of_2_Up_over_TLS()
    {
        foreach (var node in new[] { cluster.A, cluster.B })
        {
            await node.WaitUntilAsync(async n => await n.UpCountAsync() == 2, FormTimeout, "2 members Up");
        }

        var members = await cluster.A.GetJsonAsync("cluster/members");
        Assert.Equal($"akka.ssl.tcp://fabric@127.0.0.1:{cluster.A.RemotePort}", members.GetProperty("self").GetString());
        Assert.Equal(
            new[] { cluster.A.RemotePort, cluster.B.RemotePort }.Select(p => $"akka.ssl.tcp://fabric@127.0.0.1:{p}").Order(StringComparer.Ordinal),
            members.GetProperty("members").EnumerateArray().Select(m => m.GetProperty("address").GetString()!).Order(StringComparer.Ordinal));
        Assert.DoesNotContain(RefusedLine, cluster.A.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(RefusedLine, cluster.B.Output, StringComparison.Ordinal);
    }

    [Theory]
    [Step(Number = 2)]
    [InlineData("other-ca")]
    [InlineData("self-signed")]
    [InlineData("revoked")]
    public async Task A_node_with_a_certificate_of_another_CA_never_joins_and_is_logged_once(string kind)
    {
        await cluster.A.WaitUntilAsync(async n => await n.UpCountAsync() == 2, FormTimeout, "2 members Up");
        var certs = cluster.Certificates;
        (string Certificate, string Key) intruderCert;
        string intruderCa;
        if (kind == "other-ca")
        {
            // Trusts the cluster's CA, so only the cluster's check of its certificate can stop it.
            certs.CreateAuthority("other-ca");
            intruderCert = certs.CreateNode("intruder-" + kind, "other-ca");
            intruderCa = cluster.CaFile;
        }
        else if (kind == "revoked")
        {
            // A certificate of the cluster's own CA, revoked in the CRL file a and b already use.
            intruderCert = certs.CreateNode("intruder-" + kind, "fabric-ca");
            certs.CreateCrl("fabric-ca", intruderCert.Certificate);
            intruderCa = cluster.CaFile;
        }
        else
        {
            intruderCert = certs.CreateSelfSigned("intruder-" + kind);
            intruderCa = intruderCert.Certificate;
        }

        var subject = "CN=intruder-" + kind;
        var before = new[] { await RefusedTotalAsync(cluster.A), await RefusedTotalAsync(cluster.B) };

        // Twice, as systemd's Restart=on-failure would: each run tries to join and is refused. At
        // every look meanwhile it is no member of the cluster. Usually the intruder then exits 1
        // naming the TLS failure; when its failure surfaces as a gated association instead, it
        // keeps retrying (and keeps being refused) until the observation window ends.
        for (var run = 1; run <= 2; run++)
        {
            using var intruder = new NodeProcess(cluster.Discovery + RemoteTlsFixture.Tls(intruderCert.Certificate, intruderCert.Key, "", intruderCa)).Start();
            var refusedBefore = await RefusedTotalAsync(cluster.A) + await RefusedTotalAsync(cluster.B);
            var observeUntil = DateTime.UtcNow + ObserveWindow;
            var deadline = DateTime.UtcNow + FormTimeout;
            while (!intruder.HasExited && DateTime.UtcNow < deadline)
            {
                foreach (var node in new[] { cluster.A, cluster.B })
                {
                    var members = await node.GetJsonAsync("cluster/members");
                    Assert.Equal(2, members.GetProperty("members").GetArrayLength());
                    Assert.DoesNotContain(members.GetProperty("members").EnumerateArray(), m => m.GetProperty("address").GetString()!.EndsWith(":" + intruder.RemotePort.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
                }

                var refusedNow = await RefusedTotalAsync(cluster.A) + await RefusedTotalAsync(cluster.B);
                if (DateTime.UtcNow > observeUntil && refusedNow > refusedBefore)
                {
                    break; // refused and never a member for the whole window
                }

                await Task.Delay(300);
            }

            Assert.True(intruder.HasExited || DateTime.UtcNow < deadline, $"run {run}: not refused within {FormTimeout}:\n{intruder.Output}");
            if (intruder.HasExited)
            {
                Assert.True(intruder.ExitCode == 1, $"run {run}: exit {intruder.ExitCode}:\n{intruder.Output}");
                Assert.Contains("fabric-node: a remoting TLS handshake failed", intruder.Output, StringComparison.Ordinal);
            }
        }

        var refused = new[] { await RefusedTotalAsync(cluster.A) - before[0], await RefusedTotalAsync(cluster.B) - before[1] };
        Assert.True(refused.Sum() >= 2, $"the cluster refused the intruder's certificate {refused.Sum()} times in 2 runs");
        var nodes = new[] { cluster.A, cluster.B };
        for (var i = 0; i < nodes.Length; i++)
        {
            // Logged once by each node that refused it, however often it came; DotNetty's own
            // per-connection handshake errors for it are filtered out.
            var lines = nodes[i].Output.Split('\n').Where(l => l.Contains(RefusedLine, StringComparison.Ordinal) && l.Contains(subject, StringComparison.Ordinal)).ToList();
            Assert.True(lines.Count == (refused[i] > 0 ? 1 : 0), $"node {i}: refused {refused[i]} times, logged {lines.Count} lines:\n{string.Join('\n', lines)}");
            Assert.All(lines, l => Assert.Contains(kind == "revoked" ? $"is revoked by fabric.remote.tls.crl-file \"{cluster.CrlFile}\"" : "does not chain to fabric.remote.tls.ca-file", l, StringComparison.Ordinal));
            Assert.DoesNotContain("Rejected incoming connection", nodes[i].Output, StringComparison.Ordinal);
        }
    }

    private static async Task<double> RefusedTotalAsync(NodeProcess node)
    {
        using var http = node.Http();
        var text = await http.GetStringAsync("metrics");
        var line = text.Split('\n').Single(l => l.StartsWith("fabric_remote_tls_refused_total ", StringComparison.Ordinal));
        return double.Parse(line["fabric_remote_tls_refused_total ".Length..], CultureInfo.InvariantCulture);
    }
}
