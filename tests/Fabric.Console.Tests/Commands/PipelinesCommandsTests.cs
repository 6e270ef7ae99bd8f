using System.Text.Json;

namespace Fabric.Console.Tests.Commands;

public sealed class PipelinesCommandsTests
{
    private const string List = """
        {"pipelines":[{"name":"aws-mirror","state":"running","source":"ens4","sinks":["tap-mon0","pcap-1"],
          "captured":1200,"delivered":1150,"dropped":50,"error":null,"sinkWhenFull":["wait","drop"]}]}
        """;

    // The shape of GET /pipelines/stats (PipelineStatsReply as the node serialises it), with counters that
    // grow by 1000 packets and 1,000,000 bytes per sample.
    private static string Stats(int sample) => $$$"""
        {"pipelines":[{"name":"aws-mirror","state":"running","started":"2026-11-29T14:00:00+00:00",
          "source":{"source":"ens4","up":true,"kernelReceived":{{{5000 + sample * 1000}}},"kernelDropped":3,"interfaceDropped":0,
                    "outages":1,"opens":2,"captureThreadId":4242,"lastError":"The interface went down"},
          "stages":[
            {"stage":"capture","in":{"packets":{{{sample * 1000}}},"bytes":{{{sample * 1000000}}}},"out":{"packets":{{{sample * 1000}}},"bytes":{{{sample * 1000000}}}},
             "dropped":{"queue-full":{"packets":0,"bytes":0},"no-buffer":{"packets":0,"bytes":0}},"events":{},"droppedPackets":0,"balanced":true},
            {"stage":"decap","in":{"packets":{{{sample * 1000}}},"bytes":{{{sample * 1000000}}}},"out":{"packets":{{{sample * 900}}},"bytes":{{{sample * 800000}}}},
             "dropped":{"not-encapsulated":{"packets":{{{sample * 100}}},"bytes":{{{sample * 200000}}}},"filtered":{"packets":0,"bytes":0}},
             "events":{"sliced":0},"droppedPackets":{{{sample * 100}}},"balanced":true},
            {"stage":"tap-mon0","in":{"packets":{{{sample * 900}}},"bytes":{{{sample * 800000}}}},"out":{"packets":{{{sample * 900}}},"bytes":{{{sample * 800000}}}},
             "dropped":{"queue-full":{"packets":0,"bytes":0}},"events":{"recreated":1},"droppedPackets":0,"balanced":true}],
          "captured":{{{sample * 1000}}},"balanced":true,"error":null,
          "vnis":{"vnis":[{"vni":77,"packets":3,"bytes":372,"allowed":true},{"vni":4242,"packets":{{{sample * 800}}},"bytes":1,"allowed":true}],
                  "otherPackets":4,"otherBytes":496,"tracked":64,"allowed":[]}}],"error":null}
        """;

    [Fact]
    public async Task List_prints_one_row_per_pipeline()
    {
        using var node = new StubNode(_ => (200, List));

        var (exit, output, error) = await ConsoleRun.RunAsync("pipelines", "list", "--node", node.Url);

        Assert.Equal(0, exit);
        Assert.Equal("", error);
        Assert.Contains("aws-mirror", output, StringComparison.Ordinal);
        Assert.Contains("tap-mon0 (wait)", output, StringComparison.Ordinal);
        Assert.Contains("pcap-1 (drop)", output, StringComparison.Ordinal);
        Assert.Contains("1,150", output, StringComparison.Ordinal);
        Assert.Contains("1 pipeline(s)", output, StringComparison.Ordinal);
        Assert.Equal(("GET", "/pipelines"), (node.Requests[0].Method, node.Requests[0].Path));
    }

    [Fact]
    public async Task Stats_samples_twice_and_prints_rates_and_drops_by_reason()
    {
        int sample = 0;
        using var node = new StubNode(_ => (200, Stats(Interlocked.Increment(ref sample))));

        var (exit, output, error) = await ConsoleRun.RunAsync("pipelines", "stats", "aws-mirror", "--interval", "0.5", "--node", node.Url);

        Assert.Equal(0, exit);
        Assert.Equal("", error);
        Assert.Equal(2, node.Requests.Count);
        Assert.All(node.Requests, r => Assert.Equal("/pipelines/aws-mirror/stats", r.Path));
        // 1000 packets more in 0.5 s: 2,000/s into capture; 900 more out of the TAP sink: 1,800/s, 12.8 Mbit/s.
        Assert.Contains("2,000", output, StringComparison.Ordinal);
        Assert.Contains("1,800", output, StringComparison.Ordinal);
        Assert.Contains("12.8", output, StringComparison.Ordinal);
        // Frames without a tunnel header are not losses: under their own heading, not in DROPPED / DROPS BY REASON.
        Assert.Contains("not encapsulated (no tunnel header, e.g. ICMP answers to the sender; passed over, nothing lost): decap 200", output, StringComparison.Ordinal);
        Assert.DoesNotContain("not-encapsulated", output, StringComparison.Ordinal);
        var decapRow = output.Split('\n').Single(l => l.Contains("│ decap", StringComparison.Ordinal));
        Assert.Equal("0", decapRow.Split('│', StringSplitOptions.TrimEntries)[7]);
        Assert.Contains("recreated 1", output, StringComparison.Ordinal);
        Assert.Contains("outages 1", output, StringComparison.Ordinal);
        Assert.Contains("frames per VNI: 4242 1,600, 77 3, other 4", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stats_json_passes_the_nodes_document_through()
    {
        using var node = new StubNode(_ => (200, Stats(1)));

        var (exit, output, _) = await ConsoleRun.RunAsync("pipelines", "stats", "--json", "--node", node.Url);

        Assert.Equal(0, exit);
        using var printed = JsonDocument.Parse(output);
        using var sent = JsonDocument.Parse(Stats(1));
        Assert.True(JsonElement.DeepEquals(sent.RootElement, printed.RootElement));
        Assert.Equal("/pipelines/stats", node.Requests[0].Path);
    }

    [Fact]
    public async Task Stop_posts_and_prints_the_nodes_message()
    {
        using var node = new StubNode(_ => (200, """{"ok":true,"message":"pipeline aws-mirror stopped"}"""));

        var (exit, output, _) = await ConsoleRun.RunAsync("pipelines", "stop", "aws-mirror", "--node", node.Url);

        Assert.Equal(0, exit);
        Assert.Equal("pipeline aws-mirror stopped", output.Trim());
        Assert.Equal(("POST", "/pipelines/aws-mirror/stop"), (node.Requests[0].Method, node.Requests[0].Path));
    }

    [Fact]
    public async Task Starting_an_unknown_pipeline_is_one_line_and_exit_4()
    {
        using var node = new StubNode(_ => (404, """{"error":"no pipeline named nope"}"""));

        var (exit, output, error) = await ConsoleRun.RunAsync("pipelines", "start", "nope", "--node", node.Url);

        Assert.Equal(4, exit);
        Assert.Equal("", output);
        Assert.Contains("no pipeline named nope", error, StringComparison.Ordinal);
        Assert.Single(error.TrimEnd().Split('\n'));
    }

    [Fact]
    public async Task A_bad_interval_is_a_usage_error()
    {
        using var node = new StubNode(_ => (200, Stats(1)));

        var (exit, _, error) = await ConsoleRun.RunAsync("pipelines", "stats", "--interval", "0", "--node", node.Url);

        Assert.Equal(2, exit);
        Assert.Contains("--interval", error, StringComparison.Ordinal);
    }

    // The shape of GET /pipelines/aws-mirror/sources (PipelineSourcesReply as the node serialises it).
    private const string Sources = """
        {"name":"aws-mirror","maxSources":256,"sources":[
          {"id":0,"name":"other","description":"frames without a tunnel, and sessions past the table's maximum","frames":0,"bytes":0,
           "firstSeen":null,"lastSeen":null,"vlans":[{"sink":"tap-mon0","vlan":1000}]},
          {"id":1,"name":"erspan 198.18.1.10 session 7","description":"198.18.1.10 > 198.18.0.1, erspan","frames":12345,"bytes":6789012,
           "firstSeen":"2026-12-07T17:00:00.25+00:00","lastSeen":"2026-12-07T18:30:01+01:00","vlans":[{"sink":"tap-mon0","vlan":107}]}],
         "overflowed":3,"error":null}
        """;

    [Fact]
    public async Task Sources_prints_one_row_per_source_id_with_times_in_utc_and_vlans()
    {
        using var node = new StubNode(_ => (200, Sources));

        var (exit, output, error) = await ConsoleRun.RunAsync("pipelines", "sources", "aws-mirror", "--node", node.Url);

        Assert.Equal(0, exit);
        Assert.Equal("", error);
        Assert.Equal(("GET", "/pipelines/aws-mirror/sources"), (node.Requests[0].Method, node.Requests[0].Path));
        var row = output.Split('\n').Single(l => l.Contains("session 7", StringComparison.Ordinal)).Split('│', StringSplitOptions.TrimEntries);
        Assert.Equal(["1", "erspan 198.18.1.10 session 7"], row[1..3]);
        Assert.Equal("12,345", row[4]);
        Assert.Equal("6,789,012", row[5]);
        Assert.Equal("2026-12-07T17:00:00.250Z", row[6]);
        Assert.Equal("2026-12-07T17:30:01.000Z", row[7]);
        Assert.Equal("107 (tap-mon0)", row[8]);
        var other = output.Split('\n').Single(l => l.Contains("│ other", StringComparison.Ordinal)).Split('│', StringSplitOptions.TrimEntries);
        Assert.Equal(["-", "-", "1000 (tap-mon0)"], other[6..9]);
        Assert.Contains("2 source(s) of at most 256; 3 frame(s) of sessions past max-sources counted as other", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sources_json_passes_the_nodes_document_through()
    {
        using var node = new StubNode(_ => (200, Sources));

        var (exit, output, _) = await ConsoleRun.RunAsync("pipelines", "sources", "aws-mirror", "--json", "--node", node.Url);

        Assert.Equal(0, exit);
        using var printed = JsonDocument.Parse(output);
        using var sent = JsonDocument.Parse(Sources);
        Assert.True(JsonElement.DeepEquals(sent.RootElement, printed.RootElement));
    }

    [Fact]
    public async Task Sources_of_an_unknown_pipeline_is_one_line_and_exit_4()
    {
        using var node = new StubNode(_ => (404, """{"error":"no pipeline named nope"}"""));

        var (exit, output, error) = await ConsoleRun.RunAsync("pipelines", "sources", "nope", "--node", node.Url);

        Assert.Equal(4, exit);
        Assert.Equal("", output);
        Assert.Contains("no pipeline named nope", error, StringComparison.Ordinal);
        Assert.Single(error.TrimEnd().Split('\n'));
        Assert.Equal("/pipelines/nope/sources", node.Requests[0].Path);
    }
}
