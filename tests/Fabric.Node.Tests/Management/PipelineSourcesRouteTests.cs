using System.Net;
using System.Text.Json;
using Akka.Actor;
using Fabric.Actors.Pipelines;
using Fabric.Node.Management;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Fabric.Node.Tests.Management;

/// <summary>
/// <c>GET /pipelines/{name}/sources</c> in process: the routes of <see cref="PipelineRoutes"/> on Kestrel (loopback,
/// a free port) in front of an actor at <c>/user/pipelines</c> that answers <see cref="GetPipelineSources"/> as the
/// <see cref="PipelineManager"/> does.
/// </summary>
public sealed class PipelineSourcesRouteTests : IAsyncLifetime
{
    private static readonly DateTimeOffset First = new(2026, 12, 7, 17, 0, 0, 250, TimeSpan.Zero);
    private readonly ActorSystem _system = ActorSystem.Create("sources-route-test");
    private WebApplication? _app;
    private HttpClient? _http;

    private sealed class FakeManager : ReceiveActor
    {
        public FakeManager() =>
            Receive<GetPipelineSources>(r => Sender.Tell(r.Name switch
            {
                "aws-mirror" => new PipelineSourcesReply(r.Name, 256,
                [
                    new PipelineSourceRow(0, "other", "frames without a tunnel", 0, 0, null, null, [new PipelineSourceVlan("tap-mon0", 1000)]),
                    new PipelineSourceRow(1, "erspan 198.18.1.10 session 7", "198.18.1.10 > 198.18.0.1", 12, 3456, First, First.AddSeconds(2),
                        [new PipelineSourceVlan("tap-mon0", 107)]),
                ], 3, null),
                "idle" => new PipelineSourcesReply(r.Name, 256, [], 0, "pipeline idle has not run"),
                _ => new PipelineSourcesReply(r.Name, 0, [], 0, $"no pipeline named {r.Name}"),
            }));
    }

    public async Task InitializeAsync()
    {
        _system.ActorOf(Props.Create(() => new FakeManager()), PipelineManager.Name);
        var port = Ports.Free();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Services.AddSingleton(_system);
        _app = builder.Build();
        new PipelineRoutes().Map(_app);
        await _app.StartAsync();
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/") };
    }

    public async Task DisposeAsync()
    {
        _http?.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        await _system.Terminate();
    }

    [Fact]
    public async Task Each_source_id_with_counts_iso_utc_times_and_vlans()
    {
        using var response = await _http!.GetAsync("pipelines/aws-mirror/sources");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = doc.RootElement;
        Assert.Equal(("aws-mirror", 256, 3), (root.GetProperty("name").GetString(), root.GetProperty("maxSources").GetInt32(), root.GetProperty("overflowed").GetInt64()));
        var rows = root.GetProperty("sources").EnumerateArray().ToList();
        Assert.Equal(2, rows.Count);
        Assert.Equal(JsonValueKind.Null, rows[0].GetProperty("firstSeen").ValueKind);
        var session = rows[1];
        Assert.Equal("erspan 198.18.1.10 session 7", session.GetProperty("name").GetString());
        Assert.Equal("198.18.1.10 > 198.18.0.1", session.GetProperty("description").GetString());
        Assert.Equal((12L, 3456L), (session.GetProperty("frames").GetInt64(), session.GetProperty("bytes").GetInt64()));
        Assert.Equal("2026-12-07T17:00:00.25+00:00", session.GetProperty("firstSeen").GetString());
        Assert.Equal(First.AddSeconds(2), session.GetProperty("lastSeen").GetDateTimeOffset());
        var vlan = session.GetProperty("vlans").EnumerateArray().Single();
        Assert.Equal(("tap-mon0", 107), (vlan.GetProperty("sink").GetString(), vlan.GetProperty("vlan").GetInt32()));
    }

    [Theory]
    [InlineData("nope", HttpStatusCode.NotFound, "no pipeline named nope")]
    [InlineData("idle", HttpStatusCode.Conflict, "pipeline idle has not run")]
    public async Task Unknown_or_never_run_pipelines_are_one_line_errors(string name, HttpStatusCode status, string error)
    {
        using var response = await _http!.GetAsync($"pipelines/{name}/sources");

        Assert.Equal(status, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(error, doc.RootElement.GetProperty("error").GetString());
    }
}
