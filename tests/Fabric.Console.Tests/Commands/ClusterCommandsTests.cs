using System.Text.Json;

namespace Fabric.Console.Tests.Commands;

public sealed class ClusterCommandsTests
{
    private const string Members = """
        {"self":"akka.tcp://fabric@127.0.0.1:4053","leader":"akka.tcp://fabric@127.0.0.1:4053",
         "oldest":"akka.tcp://fabric@127.0.0.1:4054",
         "members":[
           {"address":"akka.tcp://fabric@127.0.0.1:4053","status":"Up","roles":["capture","supervisor"],"upNumber":1},
           {"address":"akka.tcp://fabric@127.0.0.1:4054","status":"Up","roles":["capture"],"upNumber":2},
           {"address":"akka.tcp://fabric@127.0.0.1:4055","status":"Leaving","roles":[],"upNumber":3}],
         "unreachable":["akka.tcp://fabric@127.0.0.1:4055"]}
        """;

    [Fact]
    public async Task Members_against_a_stub_node_prints_a_table_with_every_member_and_a_summary()
    {
        using var node = new StubNode(_ => (200, Members));

        var (exit, output, error) = await ConsoleRun.RunAsync("cluster", "members", "--node", node.Url);

        Assert.Equal(0, exit);
        Assert.Equal("", error);
        Assert.Contains("akka.tcp://fabric@127.0.0.1:4053", output, StringComparison.Ordinal);
        Assert.Contains("capture,supervisor", output, StringComparison.Ordinal);
        Assert.Contains("self leader", output, StringComparison.Ordinal);
        Assert.Contains("Leaving", output, StringComparison.Ordinal);
        Assert.Contains("3 member(s): 1 Leaving, 2 Up; 1 unreachable", output, StringComparison.Ordinal);
        Assert.Equal(("GET", "/cluster/members"), (node.Requests[0].Method, node.Requests[0].Path));
    }

    [Fact]
    public async Task Members_json_passes_the_nodes_document_through_unchanged()
    {
        using var node = new StubNode(_ => (200, Members));

        var (exit, output, _) = await ConsoleRun.RunAsync("cluster", "members", "--json", "--node", node.Url);

        Assert.Equal(0, exit);
        using var printed = JsonDocument.Parse(output);
        using var sent = JsonDocument.Parse(Members);
        Assert.True(JsonElement.DeepEquals(sent.RootElement, printed.RootElement));
    }

    [Fact]
    public async Task A_node_that_is_not_there_is_one_line_on_stderr_and_exit_1()
    {
        var port = StubNode.FreePort();

        var (exit, output, error) = await ConsoleRun.RunAsync("cluster", "members", "--node", $"http://127.0.0.1:{port}");

        Assert.Equal(1, exit);
        Assert.Equal("", output);
        Assert.Equal($"fabric: cannot reach node http://127.0.0.1:{port}/: connection refused", error.TrimEnd());
    }

    [Fact]
    public async Task Leave_posts_the_address_with_the_bearer_token_from_the_token_file()
    {
        using var node = new StubNode(_ => (200, """{"address":"akka.tcp://fabric@127.0.0.1:4054","action":"leave"}"""));
        var tokenFile = Path.GetTempFileName();
        try
        {
            File.WriteAllText(tokenFile, "s3cret\n");
            File.SetUnixFileMode(tokenFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);

            var (exit, output, _) = await ConsoleRun.RunAsync(
                "cluster", "leave", "akka.tcp://fabric@127.0.0.1:4054", "--node", node.Url, "--token-file", tokenFile);

            Assert.Equal(0, exit);
            Assert.Contains("leave: akka.tcp://fabric@127.0.0.1:4054", output, StringComparison.Ordinal);
            var request = Assert.Single(node.Requests);
            Assert.Equal(("POST", "/cluster/leave", "Bearer s3cret"), (request.Method, request.Path, request.Authorization));
            Assert.Equal("akka.tcp://fabric@127.0.0.1:4054", JsonDocument.Parse(request.Body).RootElement.GetProperty("address").GetString());
        }
        finally
        {
            File.Delete(tokenFile);
        }
    }

    [Fact]
    public async Task A_refused_mutation_reports_the_nodes_reason_and_exits_3()
    {
        using var node = new StubNode(_ => (401, """{"error":"missing or wrong bearer token"}"""));

        var (exit, _, error) = await ConsoleRun.RunAsync("cluster", "down", "akka.tcp://fabric@127.0.0.1:4055", "--node", node.Url);

        Assert.Equal(3, exit);
        Assert.Equal($"fabric: node {node.Url} refused POST /cluster/down: 401 missing or wrong bearer token", error.TrimEnd());
    }

    [Fact]
    public async Task A_world_readable_token_file_is_refused_before_anything_is_sent()
    {
        using var node = new StubNode(_ => (200, "{}"));
        var tokenFile = Path.GetTempFileName();
        try
        {
            File.WriteAllText(tokenFile, "s3cret");
            File.SetUnixFileMode(tokenFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);

            var (exit, _, error) = await ConsoleRun.RunAsync(
                "cluster", "down", "akka.tcp://fabric@127.0.0.1:4055", "--node", node.Url, "--token-file", tokenFile);

            Assert.Equal(2, exit);
            Assert.Contains("is readable by everyone", error, StringComparison.Ordinal);
            Assert.Empty(node.Requests);
        }
        finally
        {
            File.Delete(tokenFile);
        }
    }

    [Theory]
    [InlineData("cluster", "bogus")]
    [InlineData("cluster", "leave")]
    [InlineData("no-such-group")]
    public async Task A_bad_command_line_exits_2_with_a_hint(params string[] args)
    {
        var (exit, _, error) = await ConsoleRun.RunAsync(args);

        Assert.Equal(2, exit);
        Assert.Contains("Try 'fabric --help'.", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_node_url_that_is_not_http_is_a_usage_error()
    {
        var (exit, _, error) = await ConsoleRun.RunAsync("cluster", "members", "--node", "ftp://x");

        Assert.Equal(2, exit);
        Assert.Equal("fabric: --node: not an http(s) URL: 'ftp://x'", error.TrimEnd());
    }
}
