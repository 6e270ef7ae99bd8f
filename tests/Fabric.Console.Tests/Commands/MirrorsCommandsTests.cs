using System.Text.Json;

namespace Fabric.Console.Tests.Commands;

public sealed class MirrorsCommandsTests
{
    // What GET /mirrors answers (shape of Fabric.Node's MirrorRoutes).
    private const string List = """
        {"sessions":[{"name":"seed-mirror","site":"pve-a","backend":"ovs","bridge":"vmbr1","sources":["vm:101/net1","vm:101/net6"],
          "direction":"both","output":"vm:103/net1","snaplen":null,"enabled":true,
          "status":{"health":"degraded","reason":"source vm:101/net6 (tap101i6 or fwln101o6 not on vmbr1)","describe":"degraded (source vm:101/net6 (tap101i6 or fwln101o6 not on vmbr1))","since":"2026-11-29T14:00:00+00:00"},
          "repairCount":7,
          "lastRepair":{"detectedAt":"2026-11-29T14:01:02+00:00","trigger":"event","missing":"source tap101i1 not selected (ingress)","durationMs":3.4,"error":null}}]}
        """;

    [Fact]
    public async Task List_prints_status_with_reason_last_repair_and_count()
    {
        using var node = new StubNode(_ => (200, List));

        var (exit, output, error) = await ConsoleRun.RunAsync("mirrors", "list", "--node", node.Url);

        Assert.Equal(0, exit);
        Assert.Equal("", error);
        Assert.Contains("seed-mirror", output, StringComparison.Ordinal);
        Assert.Contains("degraded (source vm:101/net6", output, StringComparison.Ordinal);
        Assert.Contains("2026-11-29 14:01:02 (event, 3.4 ms)", output, StringComparison.Ordinal);
        Assert.Contains("1 session(s)", output, StringComparison.Ordinal);
        Assert.Equal(("GET", "/mirrors"), (node.Requests[0].Method, node.Requests[0].Path));
    }

    [Fact]
    public async Task Add_posts_the_session_with_every_source_in_order()
    {
        using var node = new StubNode(_ => (200, """{"changed":true,"message":"mirror seed-mirror defined"}"""));

        var (exit, output, _) = await ConsoleRun.RunAsync("mirrors", "add", "seed-mirror", "--site", "pve-a", "--backend", "ovs", "--bridge", "vmbr1",
            "--source", "vm:101/net1", "--source", "vm:101/net6", "--output", "vm:103/net1", "--snaplen", "128", "--node", node.Url);

        Assert.Equal(0, exit);
        Assert.Equal("mirror seed-mirror defined", output.TrimEnd());
        Assert.Equal(("POST", "/mirrors"), (node.Requests[0].Method, node.Requests[0].Path));
        using var body = JsonDocument.Parse(node.Requests[0].Body);
        var root = body.RootElement;
        Assert.Equal("seed-mirror", root.GetProperty("name").GetString());
        Assert.Equal(["vm:101/net1", "vm:101/net6"], root.GetProperty("sources").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("both", root.GetProperty("direction").GetString());
        Assert.Equal(128, root.GetProperty("snaplen").GetInt32());
        Assert.True(root.GetProperty("enabled").GetBoolean());
    }

    [Fact]
    public async Task A_refused_session_is_one_line_and_exit_2()
    {
        using var node = new StubNode(_ => (400, """{"error":"sources[1]: expected \"vm:<vmid>/net<n>\" (e.g. vm:101/net1), got \"vm:x\""}"""));

        var (exit, output, error) = await ConsoleRun.RunAsync("mirrors", "add", "m", "--site", "pve-a", "--bridge", "vmbr1",
            "--source", "vm:101/net1", "--source", "vm:x", "--output", "vm:103/net1", "--node", node.Url);

        Assert.Equal(2, exit);
        Assert.Equal("", output);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.Contains("sources[1]: expected", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task History_of_an_unknown_session_exits_4()
    {
        using var node = new StubNode(_ => (404, """{"error":"no mirror session nope"}"""));

        var (exit, _, error) = await ConsoleRun.RunAsync("mirrors", "history", "nope", "--node", node.Url);

        Assert.Equal(4, exit);
        Assert.Contains("no mirror session nope", error, StringComparison.Ordinal);
        Assert.Equal("/mirrors/nope/history", node.Requests[0].Path);
    }
}
