using System.Text.Json;
using Fabric.Actors.Tests.Mirrors.Fakes;
using Xunit;

namespace Fabric.System.Tests.Mirrors;

/// <summary>
/// Issue 6, "the VNI it assigns is known to the receiving pipeline": a real fabric-node (roles
/// supervisor, site-aws-prod, capture) whose aws agent talks to an in-process FAKE EC2 Query API
/// (not AWS). The rule names no VNI, so the fake gives each session its own, as AWS does, and names
/// its receiving pipeline; the pipeline (file source of crafted VXLAN frames with those VNIs and one
/// VNI of no session, TAP sink) counts frames per VNI; `fabric mirrors paths` shows
/// source ENI → session → VNI → target → pipeline → TAP with the counts that were sent, and the
/// stray VNI as unknown. `fabric sites list` shows the aws site's endpoints, reachability and agent node.
/// Needs root (TAP device; created by the node, named fpa + random, removed after the test).
/// </summary>
public sealed class AwsMirrorPathsAgainstFakeEc2Tests(Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    private const string AccessKey = "AKIAFAKEFABRIC000002";
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("fpa-").FullName;
    private readonly string _tap = "fpa" + Guid.NewGuid().ToString("N")[..6];
    private FakeEc2Api _ec2 = null!;
    private NodeProcess _node = null!;

    private string Traffic => Path.Combine(_dir, "mirror.pcap");

    public async Task InitializeAsync()
    {
        Environment.SetEnvironmentVariable("AWS_ACCESS_KEY_ID", AccessKey);
        Environment.SetEnvironmentVariable("AWS_SECRET_ACCESS_KEY", "fakeSecretKeyForFabricTestsOnly0000000000");
        Environment.SetEnvironmentVariable("AWS_EC2_METADATA_DISABLED", "true");
        _ec2 = await FakeEc2Api.StartAsync(AccessKey);
        _ec2.AddTarget("tmt-0123456789abcdef0", "eni-0sensor", "sensor-1 ens5");
        _ec2.AddEni("eni-01", "vpc-0a1", "subnet-01", ("Role", "web"), ("Name", "web-1"));
        _ec2.Attach("eni-01", "i-0000000000000001");
        _ec2.AddEni("eni-02", "vpc-0a1", "subnet-02", ("Role", "web"), ("Name", "web-2"));
        _ec2.Attach("eni-02", "i-0000000000000002");
        _ec2.AddEni("eni-03", "vpc-0a1", "subnet-02", ("Role", "db"));
        AwsMirrorTraffic.WritePcap(Traffic); // the file must exist at start; its frames are written once the VNIs are known
        _node = new NodeProcess($$"""
            akka.cluster.roles = [supervisor, site-aws-prod, capture]
            fabric.sites = [ { name = aws-prod, backend = aws, region = eu-west-1, service-url = "{{_ec2.Url}}", audit-interval = 1s } ]
            fabric.mirrors = [ { name = web-tier, site = aws-prod, sources = ["tag:Role=web", "vpc:vpc-0a1"], output = "tmt-0123456789abcdef0",
                                 filter-id = "tmf-0123456789abcdef0", session-number = 10, pipeline = aws-mirror } ]
            fabric.mirror-agent.report-interval = 500ms
            fabric.pipelines = [ {
              name = aws-mirror
              autostart = off
              source { file = "{{Traffic}}" }
              sinks = [ { type = tap, device = {{_tap}}, persistent = off } ]
            } ]
            """).Start();
    }

    public async Task DisposeAsync()
    {
        _node.Dispose();
        await _ec2.DisposeAsync();
        if (Directory.Exists("/sys/class/net/" + _tap))
        {
            ExternalTool.Run("ip", "link", "del", _tap);
        }

        Directory.Delete(_dir, recursive: true);
    }

    private async Task<string> Fabric(params string[] args)
    {
        var (code, stdout, stderr) = await _node.FabricAsync(args);
        Assert.True(code == 0, $"fabric {string.Join(' ', args)}: exit {code}: {stderr}");
        return stdout;
    }

    private async Task<JsonElement> FabricJson(params string[] args) => JsonDocument.Parse(await Fabric([.. args, "--json"])).RootElement.Clone();

    private Task<JsonElement> WaitForAsync(Func<Task<JsonElement?>> probe, string what) =>
        global::Fabric.Tests.Wait.ForAsync(probe, Wait, () => $"{what}\n{_node.Output}", TimeSpan.FromMilliseconds(200));

    [Fact]
    public async Task Console_shows_source_session_vni_pipeline_and_tap_with_the_frames_sent_per_vni_and_a_stray_vni_as_unknown()
    {
        await _node.WaitReadyAsync(Wait);

        // Scale-out against the fake: a session per web ENI, each with the VNI the fake chose.
        var paths = await WaitForAsync(async () =>
        {
            var (code, stdout, _) = await _node.FabricAsync("mirrors", "paths", "--json");
            if (code != 0)
            {
                return null;
            }

            var view = JsonDocument.Parse(stdout).RootElement.Clone();
            return view.GetProperty("paths").EnumerateArray().Count(p => p.GetProperty("session").ValueKind == JsonValueKind.String) == 2 ? view : null;
        }, "two sessions in fabric mirrors paths");
        var sessions = _ec2.Sessions().OrderBy(s => s.Eni, StringComparer.Ordinal).ToList();
        Assert.Equal(["eni-01", "eni-02"], sessions.Select(s => s.Eni));
        Assert.All(sessions, s => Assert.Equal(10, s.Number));
        Assert.NotEqual(sessions[0].Vni, sessions[1].Vni);
        var rows = paths.GetProperty("paths").EnumerateArray().ToList();
        Assert.Equal(sessions.Select(s => ((string?)s.Eni, (string?)s.Id, s.Vni!.Value)), rows.Select(r => (Str(r, "source"), Str(r, "session"), r.GetProperty("vni").GetInt32())));

        // The sensor receives: 7 frames of the first session, 4 of the second, 3 of a VNI no session has.
        uint first = (uint)sessions[0].Vni!.Value, second = (uint)sessions[1].Vni!.Value;
        uint stray = Enumerable.Range(1, 10).Select(i => (uint)i).First(v => v != first && v != second);
        Assert.Equal(14, AwsMirrorTraffic.WritePcap(Traffic, (first, 3), (second, 4), (stray, 3), (first, 4)));
        await Fabric("pipelines", "start", "aws-mirror");
        await WaitForAsync(async () =>
        {
            var stats = (await FabricJson("pipelines", "stats", "aws-mirror")).GetProperty("pipelines")[0];
            return stats.GetProperty("state").GetString() == "finished" ? stats : null;
        }, "pipeline aws-mirror finished");

        paths = await FabricJson("mirrors", "paths");
        rows = [.. paths.GetProperty("paths").EnumerateArray()];
        Assert.Equal(2, rows.Count);
        foreach (var (row, n) in rows.Zip(new[] { 1, 2 }))
        {
            Assert.Equal(("web-tier", $"i-000000000000000{n}", $"web-{n}", 10), (Str(row, "rule"), Str(row, "instance"), Str(row, "sourceName"), row.GetProperty("sessionNumber").GetInt32()));
            Assert.Equal(("tmt-0123456789abcdef0", "ENI eni-0sensor (sensor-1 ens5)", "aws-mirror"), (Str(row, "target"), Str(row, "targetDetail"), Str(row, "pipeline")));
            var receiver = Assert.Single(row.GetProperty("receivers").EnumerateArray());
            Assert.Equal((_node.Address, "finished", 14L), (Str(receiver, "node"), Str(receiver, "state"), receiver.GetProperty("delivered").GetInt64()));
            Assert.Equal(["tap-" + _tap], receiver.GetProperty("sinks").EnumerateArray().Select(s => s.GetString()));
        }

        Assert.Equal([7L, 4L], rows.Select(r => r.GetProperty("packets").GetInt64()));
        var unknown = Assert.Single(paths.GetProperty("unknown").EnumerateArray());
        Assert.Equal(("aws-mirror", stray.ToString(global::System.Globalization.CultureInfo.InvariantCulture), 3L), (Str(unknown, "pipeline"), Str(unknown, "vni"), unknown.GetProperty("packets").GetInt64()));
        Assert.Empty(paths.GetProperty("problems").EnumerateArray());

        // The same counters on /metrics.
        using (var http = _node.Http())
        {
            var metrics = await http.GetStringAsync("metrics");
            Assert.Contains($"fabric_pipeline_vni_packets_total{{pipeline=\"aws-mirror\",vni=\"{first}\"}} 7", metrics, StringComparison.Ordinal);
            Assert.Contains($"fabric_pipeline_vni_packets_total{{pipeline=\"aws-mirror\",vni=\"{stray}\"}} 3", metrics, StringComparison.Ordinal);
        }

        // The same as a table, and the sessions in `mirrors show`.
        var table = await Fabric("mirrors", "paths");
        output.WriteLine(table);
        foreach (var s in sessions)
        {
            Assert.Contains(s.Id, table, StringComparison.Ordinal);
            Assert.Contains(s.Vni!.Value.ToString(global::System.Globalization.CultureInfo.InvariantCulture), table, StringComparison.Ordinal);
        }

        Assert.Contains("tap-" + _tap, table, StringComparison.Ordinal);
        Assert.Contains("unknown " + stray, table, StringComparison.Ordinal);
        var show = await Fabric("mirrors", "show", "web-tier");
        output.WriteLine(show);
        Assert.Contains("pipeline", show, StringComparison.Ordinal);
        Assert.Contains(sessions[1].Id, show, StringComparison.Ordinal);
        Assert.Contains("2 backend session(s)", show, StringComparison.Ordinal);

        // fabric sites list: the aws site's endpoints, reachability and the agent's node.
        var site = Assert.Single((await FabricJson("sites", "list")).GetProperty("sites").EnumerateArray());
        Assert.Equal(("aws-prod", "aws", "reachable", _node.Address), (Str(site, "name"), Str(site, "backend"), Str(site, "reachability"), Str(site, "agentNode")));
        var endpoints = site.GetProperty("endpoints");
        Assert.Equal(("eu-west-1", _ec2.Url.ToString()), (Str(endpoints, "region"), Str(endpoints, "service-url")));
    }

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
