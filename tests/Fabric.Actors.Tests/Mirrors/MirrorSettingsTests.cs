using Fabric.Configuration;
using Fabric.Actors.Mirrors;
using Xunit;
using Fabric.Actors.Mirrors.Backends;
using Fabric.Actors.Mirrors.Registry;

namespace Fabric.Actors.Tests.Mirrors;

public sealed class MirrorSettingsTests
{
    private static MirrorSettings Read(string hocon) => MirrorBackends.ReadSettings(FabricConfig.LoadFromText([("test.conf", hocon)]));

    private const string Sites = """
        fabric.sites = [
          { name = pve-a, backend = ovs, ovsdb = "unix:/var/run/openvswitch/db.sock" }
          { name = lab-br, backend = tc, audit-interval = 5s }
        ]
        """;

    [Fact]
    public void Reference_defaults_have_no_sites_or_mirrors()
    {
        var settings = Read("");
        Assert.Empty(settings.Sites);
        Assert.Empty(settings.Mirrors);
        Assert.Equal(TimeSpan.FromMilliseconds(100), settings.ReconnectMinBackoff);
        Assert.Equal(TimeSpan.FromSeconds(5), settings.ReconnectMaxBackoff);
        Assert.Equal(200, settings.HistoryPerSession);
    }

    [Fact]
    public void The_design_example_reads_with_defaults()
    {
        var settings = Read(Sites + "\n" + """
            fabric.mirrors = [
              { name = seed-mirror, site = pve-a, bridge = vmbr1,
                sources = ["vm:101/net1", "vm:101/net6"], direction = both, output = "vm:103/net1" }
            ]
            """);
        var site = settings.Site("pve-a")!;
        Assert.Equal("unix:/var/run/openvswitch/db.sock", site.Own<OvsdbSiteSettings>().Endpoint.ToString());
        Assert.Equal(TimeSpan.FromSeconds(30), site.AuditInterval);
        Assert.Equal(TimeSpan.FromSeconds(5), settings.Site("lab-br")!.AuditInterval);
        var seed = Assert.Single(settings.Mirrors);
        Assert.Equal(new MirrorSessionSpec("seed-mirror", "pve-a", MirrorBackendKind.Ovs, "vmbr1", ["vm:101/net1", "vm:101/net6"], MirrorDirection.Both, "vm:103/net1", null, true), seed);
        Assert.Equal(["tap101i1", "fwln101o1"], seed.ParsedSources()[0].CandidateNames());
    }

    [Theory]
    [InlineData("fabric.sites = [ { name = pve-a, backend = vmware } ]", "fabric.sites[0].backend: expected one of ovs, tc, proxmox, aws, iosxe, got \"vmware\"")]
    [InlineData("fabric.sites = [ { name = pve-a, backend = ovs, ovsdb = \"http://x\" } ]", "fabric.sites[0].ovsdb: expected \"unix:PATH\", \"tcp:HOST:PORT\" or \"ssl:HOST:PORT\", got \"http://x\"")]
    [InlineData("fabric.sites = [ { name = pve-a, backend = ovs, colour = red } ]", "fabric.sites[0].colour: unknown key (allowed here: name, backend, ovsdb, ssl, audit-interval, url, user, secret-file, ca-file, fingerprint, nodes, region, service-url)")]
    [InlineData("fabric.sites = [ { name = pve-a, backend = ovs, ovsdb = \"ssl:10.0.0.1:6640\" } ]", "fabric.sites[0].ssl.private-key: missing (required)")]
    [InlineData("fabric.sites = [ { name = pve-a, backend = ovs, ovsdb = \"ssl:10.0.0.1:6640\", ssl { private-key = /nonexistent/k.pem, certificate = /etc/hostname, ca-cert = /etc/hostname } } ]", "fabric.sites[0].ssl.private-key: no such file \"/nonexistent/k.pem\"")]
    [InlineData("fabric.sites = [ { name = pve-a, backend = ovs, ssl { private-key = a } } ]", "fabric.sites[0].ssl: only for an ssl: ovsdb endpoint")]
    [InlineData("fabric.sites = [ { name = \"PVE A\", backend = ovs } ]", "fabric.sites[0].name: expected 1-40 characters [a-z0-9-] starting with a letter or digit, got \"PVE A\"")]
    [InlineData("fabric.mirrors = [ { name = m, site = nowhere, sources = [eth1], output = eth2 } ]", "fabric.mirrors[0].site: no site \"nowhere\" in fabric.sites (declared: pve-a, lab-br)")]
    [InlineData("fabric.mirrors = [ { name = m, site = pve-a, bridge = vmbr1, sources = [\"vm:101/net1\", \"vm:1x1\"], output = \"vm:103/net1\" } ]", "fabric.mirrors[0].sources[1]: expected \"vm:<vmid>/net<n>\" (e.g. vm:101/net1), got \"vm:1x1\"")]
    [InlineData("fabric.mirrors = [ { name = m, site = pve-a, sources = [eth1], output = eth2 } ]", "fabric.mirrors[0].bridge: missing (required for backend ovs)")]
    [InlineData("fabric.mirrors = [ { name = m, site = lab-br, sources = [\"vlan:10\"], output = eth2 } ]", "fabric.mirrors[0].sources[0]: VLAN sources need backend ovs (tc mirrors whole devices)")]
    [InlineData("fabric.mirrors = [ { name = m, site = pve-a, bridge = b, sources = [eth1], output = eth2, snaplen = 9 } ]", "fabric.mirrors[0].snaplen: expected an integer 14-65535, got 9")]
    [InlineData("fabric.mirrors = [ { name = m, site = pve-a, bridge = b, sources = [eth1], output = eth2, direction = sideways } ]", "fabric.mirrors[0].direction: expected one of both, ingress, egress, got \"sideways\"")]
    [InlineData("fabric.mirrors = [ { name = m, site = lab-br, backend = ovs, sources = [eth1], output = eth2 } ]", "fabric.mirrors[0].backend: site \"lab-br\" uses backend tc, not ovs")]
    [InlineData("fabric.mirrors = [ { name = m, site = pve-a, bridge = b, sources = [eth1], output = eth2 }, { name = m, site = pve-a, bridge = b, sources = [eth1], output = eth2 } ]", "fabric.mirrors[1].name: mirror \"m\" is declared twice")]
    [InlineData("fabric.mirrors = [ { name = m, site = pve-a, bridge = b, sources = [eth1], output = eth2, pipeline = aws-mirror } ]", "fabric.mirrors[0].pipeline: pipeline is for backend aws (the pipeline receiving an AWS rule's VXLAN traffic)")]
    [InlineData("fabric.mirror-agent.reconnect-max-backoff = 10ms", "fabric.mirror-agent.reconnect-max-backoff: must not be shorter than reconnect-min-backoff")]
    public void Bad_values_name_their_path(string hocon, string expected)
    {
        var ex = Assert.Throws<FabricConfigException>(() => Read(Sites + "\n" + hocon));
        Assert.Equal(expected, ex.Message);
    }
}
