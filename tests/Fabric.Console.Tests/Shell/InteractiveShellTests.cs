using Fabric.Console.Commands;
using Fabric.Console.Shell;

namespace Fabric.Console.Tests.Shell;

public sealed class InteractiveShellTests
{
    [Theory]
    [InlineData("pipelines stats replay", new[] { "pipelines", "stats", "replay" })]
    [InlineData("  mirrors   show  x ", new[] { "mirrors", "show", "x" })]
    [InlineData("mirrors add \"a b\" --source 'vm:1/net1'", new[] { "mirrors", "add", "a b", "--source", "vm:1/net1" })]
    [InlineData("decap \"\" out", new[] { "decap", "", "out" })]
    [InlineData("", new string[0])]
    public void Split_keeps_quoted_words_together(string line, string[] words) =>
        Assert.Equal(words, InteractiveShell.Split(line));

    [Fact]
    public void Completes_groups_then_subcommands_then_names_from_the_node()
    {
        using var node = new StubNode(request => request.Url!.AbsolutePath switch
        {
            "/pipelines" => (200, """{"pipelines":[{"name":"replay"},{"name":"loop"}]}"""),
            "/mirrors" => (200, """{"sessions":[{"name":"seed-mirror"}]}"""),
            _ => (404, """{"error":"no"}"""),
        });
        var shell = Shell(node);

        Assert.Equal(["cluster", "decap", "exit", "help", "mirrors", "pipelines", "quit", "sites", "top"], shell.Candidates([]).Order(StringComparer.Ordinal));
        Assert.Equal(["list", "sources", "start", "stats", "stop"], shell.Candidates(["pipelines"]).Order(StringComparer.Ordinal));
        Assert.Equal(["loop", "replay"], shell.Candidates(["pipelines", "stop"]).Order(StringComparer.Ordinal));
        Assert.Equal(["loop", "replay"], shell.Candidates(["pipelines", "sources"]).Order(StringComparer.Ordinal));
        Assert.Equal(["seed-mirror"], shell.Candidates(["mirrors", "history"]));
        Assert.Empty(shell.Candidates(["pipelines", "list"]));          // takes no name
        Assert.Empty(shell.Candidates(["nonsense"]));
        Assert.Equal(["loop", "replay"], shell.Candidates(["--json", "pipelines", "stats"]).Order(StringComparer.Ordinal)); // options are skipped
    }

    [Fact]
    public void Name_completion_from_an_unreachable_node_offers_nothing()
    {
        using var node = new StubNode(_ => (500, """{"error":"down"}"""));
        Assert.Empty(Shell(node).Candidates(["pipelines", "stop"]));
    }

    private static InteractiveShell Shell(StubNode node)
    {
        var globals = new GlobalOptions();
        var root = ConsoleApp.BuildRoot(globals);
        var client = new ManagementClient(new Uri(node.Url), token: null, TimeSpan.FromSeconds(5));
        return new InteractiveShell(root, ["--node", node.Url], client, TextWriter.Null);
    }
}
