using System.Text.Json;
using Fabric.Node.Tests.Infrastructure;
using Xunit;

namespace Fabric.Node.Tests.Persistence;

/// <summary>
/// Must show 3: the node's persistent actor (<c>NodeHistoryActor</c>, which records every start
/// of the node in the journal and is served at GET /node) keeps its state across a process
/// restart, on SQLite and on a real PostgreSQL 15.
/// </summary>
[Collection(NodeProcessCollection.Name)]
public sealed class RestartSurvivalTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Node_history_survives_a_restart_on_sqlite()
    {
        using var node = new NodeProcess("fabric.persistence.provider = sqlite");

        var (first, second) = await StartTwiceAsync(node);

        Assert.True(File.Exists(Path.Combine(node.DataDirectory, "fabric.db")));
        // No discovery configured: the node formed a one-node cluster by itself.
        await node.WaitReadyAsync(StartTimeout);
        Assert.Equal(1, await node.UpCountAsync());
        Assert.Equal("sqlite", second.GetProperty("persistence").GetString());
        AssertSurvived(first, second);
    }

    [Fact]
    public async Task Node_history_survives_a_restart_on_postgresql()
    {
        await using var database = await PostgresDatabase.CreateAsync();
        using var node = new NodeProcess($$"""
            fabric.persistence.provider = postgresql
            fabric.persistence.postgresql.connection-string = "{{database.ConnectionString}}"
            """);

        var (first, second) = await StartTwiceAsync(node);

        Assert.Equal("postgresql", second.GetProperty("persistence").GetString());
        AssertSurvived(first, second);
        Assert.Equal(2, await database.CountAsync("event_journal"));
        Assert.False(File.Exists(Path.Combine(node.DataDirectory, "fabric.db")));
        Assert.DoesNotContain("Password=fabric", node.Output, StringComparison.OrdinalIgnoreCase);
    }

    private static async Task<(JsonElement First, JsonElement Second)> StartTwiceAsync(NodeProcess node)
    {
        node.Start();
        await node.WaitUntilAsync(async n => (await n.GetJsonAsync("node")).GetProperty("starts").GetInt64() >= 1, StartTimeout, "GET /node");
        var first = await node.GetJsonAsync("node");

        node.Terminate();
        Assert.True(await node.WaitForExitAsync(TimeSpan.FromSeconds(10)), "no exit within 10 s of SIGTERM");
        Assert.Equal(0, node.ExitCode);

        node.Start();
        await node.WaitUntilAsync(async n => (await n.GetJsonAsync("node")).GetProperty("starts").GetInt64() >= 1, StartTimeout, "GET /node after the restart");
        var second = await node.GetJsonAsync("node");
        return (first, second);
    }

    private static void AssertSurvived(JsonElement first, JsonElement second)
    {
        Assert.Equal(1, first.GetProperty("starts").GetInt64());
        Assert.Equal(2, second.GetProperty("starts").GetInt64());
        Assert.Equal(first.GetProperty("firstStarted").GetDateTimeOffset(), second.GetProperty("firstStarted").GetDateTimeOffset());
        Assert.True(second.GetProperty("lastStarted").GetDateTimeOffset() > first.GetProperty("lastStarted").GetDateTimeOffset());
    }
}
