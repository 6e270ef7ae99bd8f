using System.Text.RegularExpressions;

namespace Fabric.System.Tests.Deploy;

/// <summary>
/// Must show 3: the /metrics of a running node with a pipeline and a mirror passes
/// <c>promtool check metrics</c> and serves exactly the families docs/metrics.md documents; the alert
/// rules pass <c>promtool check rules</c>; alerts and dashboard use only documented series.
/// </summary>
public sealed partial class MetricsTests(RunningNode node) : IClassFixture<RunningNode>
{
    [Fact]
    public async Task Metrics_pass_promtool_and_serve_exactly_the_documented_families()
    {
        // Wait until both features report: the replayed pipeline has decapsulated packets and
        // the mirror session has a health.
        var metrics = "";
        await Run.UntilAsync(
            async () =>
            {
                metrics = await node.MetricsAsync();
                return DecapOut().IsMatch(metrics) && metrics.Contains("fabric_mirror_session_health{site=\"lab\",session=\"lab-mirror\"", StringComparison.Ordinal);
            },
            TimeSpan.FromMinutes(1),
            () => $"pipeline and mirror samples in /metrics:\n{metrics}\nnode output:\n{node.Output}");

        var path = Path.Combine(node.Directory, "metrics.txt");
        await File.WriteAllTextAsync(path, metrics);
        var check = Run.Process("sh", "-c", $"promtool check metrics < '{path}'");
        Assert.True(check.ExitCode == 0, check.ToString());
        Assert.Equal("", check.Stdout + check.Stderr);

        var served = TypeLine().Matches(metrics).ToDictionary(m => m.Groups["name"].Value, m => m.Groups["type"].Value);
        var documented = DocumentedFamilies();
        Assert.Equal(documented.OrderBy(f => f.Key, StringComparer.Ordinal), served.OrderBy(f => f.Key, StringComparer.Ordinal));
        Assert.Matches(@"fabric_pipeline_dropped_packets_total\{pipeline=""replay"",stage=""pcap-0"",reason=""write-error""\} 0", metrics);
        Assert.Matches(@"fabric_mirror_repair_seconds_bucket\{site=""lab"",session=""lab-mirror"",le=""\+Inf""\} \d+", metrics);
    }

    [Fact]
    public void Alert_rules_pass_promtool_and_use_only_documented_series()
    {
        var rules = Path.Combine(Run.RepoRoot, "deploy", "prometheus", "fabric-alerts.yml");
        var check = Run.Process("promtool", "check", "rules", rules);
        Assert.True(check.ExitCode == 0, check.ToString());
        Assert.Contains("SUCCESS: ", check.Stdout, StringComparison.Ordinal);

        AssertOnlyDocumentedSeries(File.ReadAllText(rules));
    }

    [Fact]
    public void Dashboard_is_json_and_uses_only_documented_series()
    {
        var text = File.ReadAllText(Path.Combine(Run.RepoRoot, "deploy", "grafana", "fabric-dashboard.json"));
        using var dashboard = global::System.Text.Json.JsonDocument.Parse(text);
        Assert.Equal("fabric-overview", dashboard.RootElement.GetProperty("uid").GetString());
        Assert.True(dashboard.RootElement.GetProperty("panels").GetArrayLength() > 10);

        AssertOnlyDocumentedSeries(text);
    }

    private static void AssertOnlyDocumentedSeries(string text)
    {
        var documented = DocumentedFamilies();
        var used = SeriesName().Matches(text).Select(m => m.Value).Distinct().ToList();
        Assert.NotEmpty(used);
        Assert.All(used, name => Assert.True(
            documented.ContainsKey(name) || documented.TryGetValue(HistogramSuffix().Replace(name, ""), out var type) && type == "histogram",
            $"{name} is not documented in docs/metrics.md"));
    }

    /// <summary>The families of docs/metrics.md's table: <c>| `name` | type | ...</c>.</summary>
    private static Dictionary<string, string> DocumentedFamilies() =>
        DocRow().Matches(File.ReadAllText(Path.Combine(Run.RepoRoot, "docs", "metrics.md")))
            .ToDictionary(m => m.Groups["name"].Value, m => m.Groups["type"].Value);

    [GeneratedRegex(@"fabric_pipeline_packets_total\{pipeline=""replay"",stage=""decap"",direction=""out""\} [1-9]")]
    private static partial Regex DecapOut();

    [GeneratedRegex(@"^# TYPE (?<name>\S+) (?<type>\S+)$", RegexOptions.Multiline)]
    private static partial Regex TypeLine();

    [GeneratedRegex(@"^\| `(?<name>fabric_[a-z_]+)` \| (?<type>counter|gauge|histogram) \|", RegexOptions.Multiline)]
    private static partial Regex DocRow();

    [GeneratedRegex(@"\bfabric_[a-z_]+\b")]
    private static partial Regex SeriesName();

    [GeneratedRegex(@"_(bucket|sum|count)$")]
    private static partial Regex HistogramSuffix();
}
