using System.Text.Json;

namespace Fabric.Console.Tests.Commands;

/// <summary><c>fabric mirrors paths</c> and <c>mirrors add --pipeline</c> against a stub node.</summary>
public sealed class MirrorPathsCommandsTests
{
    // What GET /mirror-paths answers (shape of Fabric.Node's MirrorPathRoutes).
    private const string Paths = """
        {"paths":[
          {"rule":"web-tier","site":"aws-prod","status":"healthy (2 ENIs mirrored)","source":"eni-01","instance":"i-01","sourceName":"web-1",
           "session":"tms-0a","sessionNumber":10,"vni":3650372,"target":"tmt-0123","targetDetail":"ENI eni-0sensor (sensor-1)","pipeline":"aws-mirror",
           "receivers":[{"node":"akka.tcp://fabric@10.0.0.9:4053","state":"running","sinks":["tap-mon0","pcap-1"],"delivered":11}],"packets":7,"bytes":868,"note":null},
          {"rule":"web-tier","site":"aws-prod","status":"healthy (2 ENIs mirrored)","source":"eni-02","instance":null,"sourceName":null,
           "session":"tms-0b","sessionNumber":10,"vni":9782145,"target":"tmt-0123","targetDetail":null,"pipeline":"aws-mirror",
           "receivers":[{"node":"akka.tcp://fabric@10.0.0.9:4053","state":"running","sinks":["tap-mon0","pcap-1"],"delivered":11}],"packets":4,"bytes":496,"note":null},
          {"rule":"db-tier","site":"aws-prod","status":"healthy (0 ENIs mirrored)","source":null,"instance":null,"sourceName":null,
           "session":null,"sessionNumber":null,"vni":null,"target":"tmt-0123","targetDetail":null,"pipeline":null,"receivers":[],"packets":null,"bytes":null,
           "note":"the rule names no pipeline (pipeline = NAME)"}],
         "unknown":[{"pipeline":"aws-mirror","node":"akka.tcp://fabric@10.0.0.9:4053","vni":"77","packets":3,"bytes":372,"allowed":true},
                    {"pipeline":"aws-mirror","node":"akka.tcp://fabric@10.0.0.9:4053","vni":"other","packets":2,"bytes":248,"allowed":true}],
         "problems":["capture node akka.tcp://fabric@10.0.0.8:4053: its pipelines did not answer within 5 s"]}
        """;

    [Fact]
    public async Task Paths_show_source_session_vni_target_pipeline_sinks_and_packets_then_the_unknown_vnis()
    {
        using var node = new StubNode(_ => (200, Paths));

        var (exit, output, error) = await ConsoleRun.RunAsync("mirrors", "paths", "--node", node.Url);

        Assert.Equal(0, exit);
        Assert.Equal("", error);
        Assert.Equal(("GET", "/mirror-paths"), (node.Requests[0].Method, node.Requests[0].Path));
        var lines = output.Split('\n');
        var first = Assert.Single(lines, l => l.Contains("eni-01", StringComparison.Ordinal));
        foreach (var cell in new[] { "web-tier", "tms-0a", "3650372", "tmt-0123", "aws-mirror", "tap-mon0", " 7 " })
        {
            Assert.Contains(cell, first, StringComparison.Ordinal);
        }

        Assert.Contains(lines, l => l.Contains("i-01 (web-1)", StringComparison.Ordinal) && l.Contains("#10", StringComparison.Ordinal) && l.Contains("ENI eni-0sensor", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("akka.tcp://fabric@10.0.0.9:4053 (running)", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("tms-0b", StringComparison.Ordinal) && l.Contains(" 4 ", StringComparison.Ordinal));
        Assert.Contains("the rule names no pipeline", output, StringComparison.Ordinal);
        Assert.Contains("3 path(s)", output, StringComparison.Ordinal);
        Assert.Contains(lines, l => l.Contains("unknown 77", StringComparison.Ordinal) && l.Contains(" 3 ", StringComparison.Ordinal) && l.Contains("372", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("unknown other", StringComparison.Ordinal) && l.Contains(" 2 ", StringComparison.Ordinal));
        Assert.Contains("warning: capture node akka.tcp://fabric@10.0.0.8:4053: its pipelines did not answer", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Paths_of_one_rule_ask_for_it_and_json_is_the_nodes_document()
    {
        string? query = null;
        using var node = new StubNode(r =>
        {
            query = r.Url!.Query;
            return (200, Paths);
        });

        var (exit, output, _) = await ConsoleRun.RunAsync("mirrors", "paths", "web-tier", "--json", "--node", node.Url);

        Assert.Equal(0, exit);
        Assert.Equal("?rule=web-tier", query);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal([7L, 4L], doc.RootElement.GetProperty("paths").EnumerateArray().Take(2).Select(p => p.GetProperty("packets").GetInt64()));
    }

    [Fact]
    public async Task Paths_of_an_unknown_rule_is_one_line_and_exit_4()
    {
        using var node = new StubNode(_ => (404, """{"error":"no mirror session nope"}"""));

        var (exit, output, error) = await ConsoleRun.RunAsync("mirrors", "paths", "nope", "--node", node.Url);

        Assert.Equal(4, exit);
        Assert.Equal("", output);
        Assert.Contains("no mirror session nope", error, StringComparison.Ordinal);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Fact]
    public async Task Add_aws_posts_the_receiving_pipeline_and_no_vni()
    {
        using var node = new StubNode(_ => (200, """{"changed":true,"message":"mirror web defined"}"""));

        var (exit, _, _) = await ConsoleRun.RunAsync("mirrors", "add", "web", "--site", "aws-prod", "--backend", "aws", "--source", "tag:Role=web",
            "--output", "tmt-0123", "--filter-id", "tmf-0456", "--pipeline", "aws-mirror", "--node", node.Url);

        Assert.Equal(0, exit);
        using var body = JsonDocument.Parse(node.Requests[0].Body);
        Assert.Equal("aws-mirror", body.RootElement.GetProperty("pipeline").GetString());
        Assert.False(body.RootElement.TryGetProperty("vni", out _));
    }
}
