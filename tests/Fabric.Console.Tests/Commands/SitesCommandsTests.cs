using System.Text.Json;

namespace Fabric.Console.Tests.Commands;

/// <summary><c>fabric sites list</c> and the backend options of <c>fabric mirrors add</c>, against a stub node.</summary>
public sealed class SitesCommandsTests
{
    // What GET /sites answers (shape of Fabric.Node's SiteRoutes).
    private const string Sites = """
        {"sites":[
          {"name":"pve","backend":"proxmox","endpoints":{"node pve1":"tcp:10.0.0.1:6640","secret":"file /etc/fabric/pve-token (redacted)","tls":"pinned sha256 AB","url":"https://pve1:8006/","user":"fabric@pve!mirrors"},
           "reachable":true,"reachability":"reachable","agentNode":"akka.tcp://fabric@10.0.0.5:4053","auditIntervalSeconds":30,"auditInterval":"30 s"},
          {"name":"aws-prod","backend":"aws","endpoints":{"credentials":"standard AWS chain (redacted)","region":"eu-west-1","service-url":"(regional endpoint)"},
           "reachable":null,"reachability":"no agent: no member with role site-aws-prod is up","agentNode":null,"auditIntervalSeconds":30,"auditInterval":"30 s"}]}
        """;

    [Fact]
    public async Task List_shows_each_site_endpoints_reachability_and_agent_node()
    {
        using var node = new StubNode(_ => (200, Sites));

        var (exit, output, error) = await ConsoleRun.RunAsync("sites", "list", "--node", node.Url);

        Assert.Equal(0, exit);
        Assert.Equal("", error);
        Assert.Equal(("GET", "/sites"), (node.Requests[0].Method, node.Requests[0].Path));
        Assert.Contains("node pve1: tcp:10.0.0.1:6640", output, StringComparison.Ordinal);
        Assert.Contains("secret: file /etc/fabric/pve-token (redacted)", output, StringComparison.Ordinal);
        Assert.Contains("akka.tcp://fabric@10.0.0.5:4053", output, StringComparison.Ordinal);
        Assert.Contains("no agent: no member with role", output, StringComparison.Ordinal);
        Assert.Contains("2 site(s)", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_as_json_is_the_nodes_document()
    {
        using var node = new StubNode(_ => (200, Sites));

        var (exit, output, _) = await ConsoleRun.RunAsync("sites", "list", "--json", "--node", node.Url);

        Assert.Equal(0, exit);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal(["pve", "aws-prod"], doc.RootElement.GetProperty("sites").EnumerateArray().Select(s => s.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task Add_iosxe_posts_the_erspan_options()
    {
        using var node = new StubNode(_ => (200, """{"changed":true,"message":"mirror csr-uplink defined"}"""));

        var (exit, _, _) = await ConsoleRun.RunAsync("mirrors", "add", "csr-uplink", "--site", "csr", "--backend", "iosxe", "--source", "GigabitEthernet1",
            "--output", "10.0.0.5", "--session-number", "1", "--erspan-id", "100", "--origin-ip", "10.0.0.1", "--mtu", "1464", "--node", node.Url);

        Assert.Equal(0, exit);
        using var body = JsonDocument.Parse(node.Requests[0].Body);
        var root = body.RootElement;
        Assert.Equal("iosxe", root.GetProperty("backend").GetString());
        Assert.Equal((1, 100, "10.0.0.1", 1464), (root.GetProperty("session-number").GetInt32(), root.GetProperty("erspan-id").GetInt32(), root.GetProperty("origin-ip").GetString(), root.GetProperty("mtu").GetInt32()));
        Assert.False(root.TryGetProperty("vni", out _));
    }

    [Fact]
    public async Task Add_aws_posts_the_rule_options()
    {
        using var node = new StubNode(_ => (200, """{"changed":true,"message":"mirror web defined"}"""));

        var (exit, _, _) = await ConsoleRun.RunAsync("mirrors", "add", "web", "--site", "aws-prod", "--backend", "aws", "--source", "tag:Role=web", "--source", "vpc:vpc-0a1",
            "--output", "tmt-0123", "--filter-id", "tmf-0456", "--vni", "4242", "--packet-length", "128", "--node", node.Url);

        Assert.Equal(0, exit);
        using var body = JsonDocument.Parse(node.Requests[0].Body);
        var root = body.RootElement;
        Assert.Equal(["tag:Role=web", "vpc:vpc-0a1"], root.GetProperty("sources").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(("tmf-0456", 4242, 128), (root.GetProperty("filter-id").GetString(), root.GetProperty("vni").GetInt32(), root.GetProperty("packet-length").GetInt32()));
    }
}
