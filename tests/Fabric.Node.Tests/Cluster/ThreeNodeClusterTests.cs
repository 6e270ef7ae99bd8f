using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Fabric.Node.Tests.Infrastructure;
using Xunit;

namespace Fabric.Node.Tests.Cluster;

/// <summary>
/// Must show 1 (three nodes, no seed nodes, one cluster: 3 Up on each), the management token,
/// Must show 2 (kill -9 of one: unreachable, downed by SBR, 2 Up), a leave through the API, and
/// SIGTERM (leave, exit 0 within 10 s), in this order on one shared cluster.
/// </summary>
[Collection(NodeProcessCollection.Name)]
[TestCaseOrderer(StepOrderer.TypeName, StepOrderer.AssemblyName)]
public sealed class ThreeNodeClusterTests(ThreeNodeClusterFixture cluster) : IClassFixture<ThreeNodeClusterFixture>
{
    private static readonly TimeSpan FormTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    [Step(Number = 1)]
    public async Task Three_nodes_without_seed_nodes_form_one_cluster_and_each_sees_3_Up()
    {
        foreach (var node in cluster.Nodes)
        {
            await node.WaitUntilAsync(async n => await n.UpCountAsync() == 3, FormTimeout, "3 Up members");
        }

        var expected = cluster.Nodes.Select(n => n.Address).Order(StringComparer.Ordinal).ToArray();
        foreach (var node in cluster.Nodes)
        {
            var view = await node.GetJsonAsync("cluster/members");
            Assert.Equal(node.Address, view.GetProperty("self").GetString());
            var members = view.GetProperty("members").EnumerateArray().ToList();
            Assert.Equal(expected, members.Select(m => m.GetProperty("address").GetString()!).Order(StringComparer.Ordinal).ToArray());
            Assert.All(members, m => Assert.Equal("Up", m.GetProperty("status").GetString()));
            Assert.All(members, m => Assert.Equal(new[] { "capture" }, m.GetProperty("roles").EnumerateArray().Select(r => r.GetString()!).ToArray()));
            Assert.Equal([1, 2, 3], members.Select(m => m.GetProperty("upNumber").GetInt32()).Order().ToArray());
            Assert.Empty(view.GetProperty("unreachable").EnumerateArray());
            Assert.Contains(view.GetProperty("leader").GetString(), expected);
            Assert.Contains(view.GetProperty("oldest").GetString(), expected);
        }

        // Every node's /bootstrap/seed-nodes speaks Akka.Management's protocol: its self node and the members.
        var seeds = await cluster.Nodes[0].GetJsonAsync("bootstrap/seed-nodes");
        Assert.Equal(cluster.Nodes[0].RemotePort, seeds.GetProperty("SelfNode").GetProperty("Port").GetInt32());
        Assert.Equal(3, seeds.GetProperty("Nodes").GetArrayLength());

        using var http = cluster.Nodes[1].Http();
        // /ready follows Up once the node has finished starting (journal warmed, features started).
        await cluster.Nodes[1].WaitReadyAsync(FormTimeout);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("ready")).StatusCode);
        var metrics = await http.GetStringAsync("metrics");
        Assert.Contains("fabric_cluster_members{status=\"up\"} 3\n", metrics, StringComparison.Ordinal);
    }

    [Fact]
    [Step(Number = 2)]
    public async Task Mutating_routes_need_the_bearer_token_and_change_nothing_without_it()
    {
        var node = cluster.Nodes[0];
        await node.WaitUntilAsync(async n => await n.UpCountAsync() == 3, FormTimeout, "3 Up members");
        using var http = node.Http();
        var target = cluster.Nodes[2].Address;

        using var noToken = await http.PostAsync("cluster/down", Body(target));
        using var wrongToken = new HttpRequestMessage(HttpMethod.Post, "cluster/leave") { Content = Body(target) };
        wrongToken.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "not-the-token");
        using var wrongTokenResponse = await http.SendAsync(wrongToken);

        Assert.Equal(HttpStatusCode.Unauthorized, noToken.StatusCode);
        Assert.Equal("missing or wrong bearer token", (await noToken.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.Unauthorized, wrongTokenResponse.StatusCode);
        Assert.Equal(3, await node.UpCountAsync());
        Assert.Equal(3, await cluster.Nodes[2].UpCountAsync());

        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ThreeNodeClusterFixture.Token);
        using var notMember = await http.PostAsync("cluster/down", Body("akka.tcp://fabric@127.0.0.1:1"));
        Assert.Equal(HttpStatusCode.NotFound, notMember.StatusCode);
        Assert.Equal("not a member: akka.tcp://fabric@127.0.0.1:1", (await notMember.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString());
        using var badBody = await http.PostAsync("cluster/down", new StringContent("{\"addr\":", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, badBody.StatusCode);
        Assert.Equal(3, await node.UpCountAsync());
    }

    [Fact]
    [Step(Number = 3)]
    public async Task Kill_9_of_one_node_the_others_mark_it_unreachable_down_it_and_go_on_with_2_Up()
    {
        var (victim, survivors) = (cluster.Nodes[2], new[] { cluster.Nodes[0], cluster.Nodes[1] });
        foreach (var node in cluster.Nodes)
        {
            await node.WaitUntilAsync(async n => await n.UpCountAsync() == 3, FormTimeout, "3 Up members");
        }

        victim.KillHard();
        Assert.True(await victim.WaitForExitAsync(TimeSpan.FromSeconds(5)));

        foreach (var node in survivors)
        {
            await node.WaitUntilAsync(async n =>
            {
                var view = await n.GetJsonAsync("cluster/members");
                return view.GetProperty("unreachable").EnumerateArray().Any(a => a.GetString() == victim.Address);
            }, TimeSpan.FromSeconds(30), "the killed node marked unreachable");
        }

        foreach (var node in survivors)
        {
            await node.WaitUntilAsync(async n =>
            {
                var view = await n.GetJsonAsync("cluster/members");
                var members = view.GetProperty("members").EnumerateArray().ToList();
                return members.Count == 2 && members.All(m => m.GetProperty("status").GetString() == "Up")
                    && view.GetProperty("unreachable").GetArrayLength() == 0;
            }, TimeSpan.FromSeconds(30), "the killed node downed and removed, 2 Up");
        }

        var final = await survivors[0].GetJsonAsync("cluster/members");
        Assert.Equal(
            survivors.Select(s => s.Address).Order(StringComparer.Ordinal).ToArray(),
            final.GetProperty("members").EnumerateArray().Select(m => m.GetProperty("address").GetString()!).Order(StringComparer.Ordinal).ToArray());
    }

    [Fact]
    [Step(Number = 4)]
    public async Task Leave_through_the_management_api_removes_the_node_and_it_exits_0()
    {
        var (leaving, staying) = (cluster.Nodes[1], cluster.Nodes[0]);
        await staying.WaitUntilAsync(async n => await n.UpCountAsync() == 2, FormTimeout, "2 Up members");
        using var http = staying.Http();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", ThreeNodeClusterFixture.Token);

        using var response = await http.PostAsync("cluster/leave", Body(leaving.Address));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(leaving.Address, answer.GetProperty("address").GetString());
        Assert.Equal("leave", answer.GetProperty("action").GetString());
        Assert.True(await leaving.WaitForExitAsync(TimeSpan.FromSeconds(20)), "the node that left did not exit");
        Assert.Equal(0, leaving.ExitCode);
        await staying.WaitUntilAsync(async n =>
        {
            var view = await n.GetJsonAsync("cluster/members");
            return view.GetProperty("members").EnumerateArray().All(m => m.GetProperty("address").GetString() != leaving.Address);
        }, TimeSpan.FromSeconds(10), "the node that left removed");
        Assert.Equal(1, await staying.UpCountAsync());
    }

    [Fact]
    [Step(Number = 5)]
    public async Task Sigterm_leaves_the_cluster_and_exits_0_within_10_seconds()
    {
        var node = cluster.Nodes[0];
        await node.WaitReadyAsync(FormTimeout);

        var started = DateTime.UtcNow;
        node.Terminate();

        Assert.True(await node.WaitForExitAsync(TimeSpan.FromSeconds(10)), "fabric-node did not exit within 10 s of SIGTERM");
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10));
        Assert.Equal(0, node.ExitCode);
        Assert.Contains("Stopping: leaving the cluster (CoordinatedShutdown)", node.Output, StringComparison.Ordinal);
        Assert.Contains("Marked address [" + node.Address + "] as [Leaving]", node.Output, StringComparison.Ordinal);
    }

    private static StringContent Body(string address) =>
        new(JsonSerializer.Serialize(new { address }), Encoding.UTF8, "application/json");
}
