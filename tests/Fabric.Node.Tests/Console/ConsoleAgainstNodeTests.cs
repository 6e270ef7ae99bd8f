using System.Text.Json;
using Fabric.Node.Tests.Infrastructure;
using Xunit;

namespace Fabric.Node.Tests.Console;

/// <summary>
/// Must show 6: the real `fabric` console against a real one-node `fabric-node` that requires a
/// management token: members as a table and as JSON; a node that is not there; a mutating command
/// without the token refused (401) and nothing changed.
/// </summary>
public sealed class ConsoleAgainstNodeTests(TokenNodeFixture fixture) : IClassFixture<TokenNodeFixture>
{
    private readonly NodeProcess _node = fixture.Node;

    [Fact]
    public async Task Members_as_a_table_shows_the_node_Up_as_self_leader_and_oldest()
    {
        var (exit, stdout, stderr) = await ConsoleProcess.RunAsync(null, "cluster", "members", "--node", _node.BaseUri.ToString());

        Assert.True(exit == 0, $"exit {exit}: {stderr}");
        var row = Assert.Single(stdout.Split('\n'), l => l.Contains(_node.Address, StringComparison.Ordinal));
        Assert.Contains(" Up ", row, StringComparison.Ordinal);
        Assert.Contains("self leader oldest", row, StringComparison.Ordinal);
        Assert.Contains("1 member(s): 1 Up; 0 unreachable", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Members_as_json_is_the_nodes_document_and_the_node_comes_from_FABRIC_NODE()
    {
        var env = new Dictionary<string, string> { ["FABRIC_NODE"] = _node.BaseUri.ToString() };

        var (exit, stdout, stderr) = await ConsoleProcess.RunAsync(env, "cluster", "members", "--json");

        Assert.True(exit == 0, $"exit {exit}: {stderr}");
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(_node.Address, doc.RootElement.GetProperty("self").GetString());
        var member = Assert.Single(doc.RootElement.GetProperty("members").EnumerateArray());
        Assert.Equal("Up", member.GetProperty("status").GetString());
        Assert.Equal(_node.Address, member.GetProperty("address").GetString());
    }

    [Fact]
    public async Task A_node_that_is_not_there_gives_one_line_and_a_non_zero_exit()
    {
        int port = Ports.Free();

        var (exit, stdout, stderr) = await ConsoleProcess.RunAsync(null, "cluster", "members", "--node", $"http://127.0.0.1:{port}");

        Assert.Equal(1, exit);
        Assert.Equal("", stdout);
        Assert.Equal($"fabric: cannot reach node http://127.0.0.1:{port}/: connection refused\n", stderr);
    }

    [Fact]
    public async Task Leave_without_the_token_is_refused_with_401_and_the_node_stays_Up()
    {
        var (exit, _, stderr) = await ConsoleProcess.RunAsync(null, "cluster", "leave", _node.Address, "--node", _node.BaseUri.ToString());

        Assert.Equal(3, exit);
        Assert.StartsWith($"fabric: node {_node.BaseUri} refused POST /cluster/leave: 401 ", stderr, StringComparison.Ordinal);
        Assert.Single(stderr.TrimEnd('\n').Split('\n'));

        var (wrongExit, _, _) = await ConsoleProcess.RunAsync(
            new Dictionary<string, string> { ["FABRIC_TOKEN"] = "not-the-token" },
            "cluster", "down", _node.Address, "--node", _node.BaseUri.ToString());
        Assert.Equal(3, wrongExit);

        // Nothing changed: still one member, Up, and the process runs.
        Assert.Equal(1, await _node.UpCountAsync());
        Assert.False(_node.HasExited);
    }
}

/// <summary>One node whose mutating routes need a token read from a 0600 file.</summary>
public sealed class TokenNodeFixture : IAsyncLifetime
{
    public const string Token = "test-token-7f3a";

    public NodeProcess Node { get; private set; } = null!;

    public string TokenFile { get; private set; } = null!;

    public static string WriteTokenFile(string directory)
    {
        var file = Path.Combine(directory, "token");
        File.WriteAllText(file, Token + "\n");
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return file;
    }

    public async Task InitializeAsync()
    {
        Node = new NodeProcess();
        TokenFile = WriteTokenFile(Node.Directory);
        File.AppendAllText(Node.ConfigFile, $"\nfabric.management.token-file = \"{TokenFile}\"\n");
        Node.Start();
        await Node.WaitReadyAsync(TimeSpan.FromSeconds(60));
    }

    public Task DisposeAsync()
    {
        Node.Dispose();
        return Task.CompletedTask;
    }
}

/// <summary>Must show 6, the other side: with the token from --token-file, `fabric cluster leave` is done.</summary>
public sealed class ConsoleMutationWithTokenTests
{
    [Fact]
    public async Task Leave_with_the_token_file_makes_the_node_leave_and_exit_0()
    {
        using var node = new NodeProcess();
        var tokenFile = TokenNodeFixture.WriteTokenFile(node.Directory);
        File.AppendAllText(node.ConfigFile, $"\nfabric.management.token-file = \"{tokenFile}\"\n");
        node.Start();
        await node.WaitReadyAsync(TimeSpan.FromSeconds(60));

        var (exit, stdout, stderr) = await ConsoleProcess.RunAsync(
            null, "cluster", "leave", node.Address, "--node", node.BaseUri.ToString(), "--token-file", tokenFile, "--json");

        Assert.True(exit == 0, $"exit {exit}: {stderr}");
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(node.Address, doc.RootElement.GetProperty("address").GetString());
        Assert.Equal("leave", doc.RootElement.GetProperty("action").GetString());
        // A node that left its cluster shuts down (CoordinatedShutdown) and exits 0.
        Assert.True(await node.WaitForExitAsync(TimeSpan.FromSeconds(20)), "the node did not exit after leaving: " + (File.Exists($"/proc/{node.Pid}/stat") ? File.ReadAllText($"/proc/{node.Pid}/stat") + File.ReadAllText($"/proc/{node.Pid}/status") : "gone") + node.Output);
        Assert.Equal(0, node.ExitCode);
    }
}
