using System.Text.Json;
using Fabric.Configuration;
using Fabric.Actors.Mirrors;
using Fabric.Actors.Mirrors.Registry;
using Fabric.Node.Management;
using Xunit;

namespace Fabric.Node.Tests.Management;

/// <summary>
/// The management routes that depend on a backend ask its plug-in: <c>GET /sites</c>'s endpoints
/// (<see cref="IMirrorBackendPlugin.Describe"/>) and a defined session's fields and backend
/// (<see cref="MirrorBackendSet.SessionKeys"/>, <see cref="MirrorBackendSet.Names"/>).
/// </summary>
public sealed class BackendRoutesTests
{
    private static readonly MirrorSettings Settings = MirrorBackends.ReadSettings(FabricConfig.LoadFromText([("test.conf", """
        fabric.sites = [
          { name = pve-a, backend = ovs, ovsdb = "tcp:127.0.0.1:6640" }
          { name = lab-br, backend = tc }
          { name = aws-prod, backend = aws, region = eu-west-1 }
        ]
        """)]));

    [Fact]
    public void A_site_s_endpoints_are_what_its_backend_describes()
    {
        Assert.Equal(new Dictionary<string, string> { ["ovsdb"] = "tcp:127.0.0.1:6640" }, SiteRoutes.Endpoints(Settings.Site("pve-a")!, Settings.Backends));
        Assert.Equal(new Dictionary<string, string> { ["tc"] = "this host" }, SiteRoutes.Endpoints(Settings.Site("lab-br")!, Settings.Backends));
        Assert.Equal(
            new Dictionary<string, string> { ["credentials"] = "standard AWS chain (redacted)", ["region"] = "eu-west-1", ["service-url"] = "(regional endpoint)" },
            SiteRoutes.Endpoints(Settings.Site("aws-prod")!, Settings.Backends));
    }

    [Fact]
    public void A_defined_session_s_fields_are_the_backends_session_keys()
    {
        using var body = JsonDocument.Parse("""{"name":"m","site":"pve-a","sources":["eth1"],"output":"eth2","no-such-field":1}""");
        var ex = Assert.Throws<FabricConfigException>(() => MirrorRoutes.ParseSpec(body.RootElement, Settings));
        Assert.Equal($"no-such-field: unknown field (allowed: {string.Join(", ", MirrorBackends.Set.SessionKeys)})", ex.Message);
        Assert.All(MirrorBackends.All.SelectMany(b => b.SessionKeys), key => Assert.Contains(key, ex.Message, StringComparison.Ordinal));

        using var aws = JsonDocument.Parse("""{"name":"m","site":"aws-prod","sources":["tag:Role=web"],"output":"tmt-01","filter-id":"tmf-01","vni":42}""");
        var spec = MirrorRoutes.ParseSpec(aws.RootElement, Settings);
        Assert.Equal(MirrorBackendKind.Aws, spec.Backend);
        Assert.Equal(new MirrorBackendOptions(FilterId: "tmf-01", Vni: 42), spec.Options);
    }

    [Fact]
    public void An_unknown_backend_is_refused_with_the_registered_names()
    {
        using var body = JsonDocument.Parse("""{"name":"m","site":"pve-a","backend":"vmware","sources":["eth1"],"output":"eth2"}""");
        var ex = Assert.Throws<FabricConfigException>(() => MirrorRoutes.ParseSpec(body.RootElement, Settings));
        Assert.Equal("backend: expected one of ovs, tc, iosxe, proxmox, aws, got \"vmware\"", ex.Message);
    }
}
