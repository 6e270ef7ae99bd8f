using System.Diagnostics;
using System.Text.RegularExpressions;
using Xunit;

namespace Fabric.System.Tests.DataPlane;

/// <summary>
/// Issue 16, Must show 1: <c>bench/live-vs-rcdcap.sh</c> runs. Without <c>RCDCAP</c> (RCDCap is built beside the
/// project, never in it, so CI has none) it runs Fabric and tcpdump alone, says so, and prints a summary row for
/// each at top speed and at the fixed rate, with every packet of a small replay delivered by at least one round;
/// it leaves none of its links or namespaces behind. An <c>RCDCAP</c> that is not an executable is refused at once
/// with a one-line error and exit 2. The runs with RCDCap are in docs/benchmarks.md. In the data-plane collection,
/// so no other live test replays at the same time.
/// </summary>
[Collection(DataPlaneCollection.Name)]
public sealed partial class LiveVsRcdcapBenchTests
{
    [Fact]
    public void Without_rcdcap_it_runs_fabric_and_tcpdump_alone_says_so_and_cleans_up()
    {
        var (exit, output) = Run(null, "20000", "1");

        Assert.True(exit == 0, $"bench/live-vs-rcdcap.sh exited {exit}:\n{output}");
        Assert.Contains("RCDCAP is not set: running Fabric and tcpdump (and the C floor) only, no RCDCap", output, StringComparison.Ordinal);
        var rows = SummaryRow().Matches(output).Select(m => (Receiver: m.Groups[1].Value, Rate: m.Groups[2].Value, Delivered: long.Parse(m.Groups[3].Value, global::System.Globalization.CultureInfo.InvariantCulture))).ToList();
        foreach (var receiver in new[] { "fabric", "tcpdump" })
        {
            foreach (var rate in new[] { "top", "100000" })
            {
                var row = Assert.Single(rows, r => r.Receiver == receiver && r.Rate == rate);
                Assert.True(row.Delivered > 0, $"{receiver} at {rate} delivered nothing:\n{output}");
            }
        }

        Assert.DoesNotContain(rows, r => r.Receiver == "rcdcap");
        Assert.DoesNotMatch(LeftOver(), ExternalTool.Run("ip", "-o", "link", "show").Stdout);
        Assert.DoesNotMatch(LeftOver(), ExternalTool.Run("ip", "netns", "list").Stdout);
    }

    [Fact]
    public void An_rcdcap_that_is_not_an_executable_is_refused_in_one_line()
    {
        var (exit, output) = Run("/nonexistent/rcdcap", "10", "1");

        Assert.Equal(2, exit);
        Assert.Equal("live-vs-rcdcap.sh: RCDCAP=/nonexistent/rcdcap is not an executable file", output.Trim());
    }

    private static (int Exit, string Output) Run(string? rcdcap, params string[] arguments)
    {
        var start = new ProcessStartInfo("bash") { WorkingDirectory = TestPaths.RepoRoot };
        start.ArgumentList.Add("bench/live-vs-rcdcap.sh");
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment.Remove("RCDCAP");
        if (rcdcap is not null)
        {
            start.Environment["RCDCAP"] = rcdcap;
        }

        using var process = CapturedProcess.Start(start);
        if (!process.WaitForExit(TimeSpan.FromMinutes(6)))
        {
            // SIGTERM first: the script's trap removes what it created.
            ExternalTool.Run("kill", "-TERM", process.Id.ToString(global::System.Globalization.CultureInfo.InvariantCulture));
            process.WaitForExit(TimeSpan.FromSeconds(60));
            throw new TimeoutException($"bench/live-vs-rcdcap.sh did not finish within 6 minutes:\n{process.Output}");
        }

        return (process.ExitCode, process.Output);
    }

    // receiver, rate, delivered median (the summary's first columns)
    [GeneratedRegex(@"^(c-floor|rcdcap|fabric|before|tcpdump)\s+(\S+)\s+(\d+) \[", RegexOptions.Multiline)]
    private static partial Regex SummaryRow();

    // the script's names: frc<4 digits> followed by one letter
    [GeneratedRegex(@"\bfrc\d{4}[a-z]\b")]
    private static partial Regex LeftOver();
}
