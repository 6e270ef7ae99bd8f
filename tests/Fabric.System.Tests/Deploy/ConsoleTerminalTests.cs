using System.Text.RegularExpressions;

namespace Fabric.System.Tests.Deploy;

/// <summary>
/// Must show 1 and 2: <c>fabric top</c> and the interactive shell driven through tmux (send-keys,
/// capture-pane) against a running node with a replayed pipeline, a live pipeline on loopback and
/// a mirror session.
/// </summary>
public sealed partial class ConsoleTerminalTests(RunningNode node) : IClassFixture<RunningNode>
{
    private static string Fabric => TestPaths.PublishedConsole; // the NativeAOT console, as shipped

    [Fact]
    public async Task Top_shows_pipelines_and_mirrors_with_live_counters_and_q_restores_the_terminal()
    {
        using var tmux = new Tmux();
        using var traffic = new CancellationTokenSource();
        var sender = Task.Run(async () =>
        {
            while (!traffic.IsCancellationRequested)
            {
                node.SendTraffic(20);
                await Task.Delay(100);
            }
        });
        try
        {
            tmux.Type($"echo fp-before; {Fabric} top --node {node.Url}; echo fp-exit=$?");
            tmux.Keys("Enter");

            var first = tmux.WaitFor(
                s => s.Contains("q quits", StringComparison.Ordinal) && LoopDrops().IsMatch(s) && s.Contains("lab-mirror", StringComparison.Ordinal),
                "top with the live pipeline's counters and the mirror");
            Assert.Contains("replay", first, StringComparison.Ordinal);
            Assert.Matches(@"lab-mirror\s+│\s+lab\s+│\s+degraded", first);
            Assert.Contains("capture,site-lab,supervisor", first, StringComparison.Ordinal);
            Assert.DoesNotContain("fp-before", first, StringComparison.Ordinal); // alternate screen

            // Live: the loop pipeline's drop total (the UDP datagrams are not tunnel packets) grows.
            var before = long.Parse(LoopDrops().Match(first).Groups[1].Value, global::System.Globalization.CultureInfo.InvariantCulture);
            tmux.WaitFor(
                s => LoopDrops().Match(s) is { Success: true } m && long.Parse(m.Groups[1].Value, global::System.Globalization.CultureInfo.InvariantCulture) > before,
                $"the live counter to grow past {before}");

            tmux.Keys("q");
            // The typed command line shows "fp-exit=$?"; bash's answer is a line of its own.
            var after = tmux.WaitFor(s => ExitLine().IsMatch(s), "top to exit on q");
            Assert.Equal("0", ExitLine().Match(after).Groups[1].Value);
            Assert.Contains("fp-before", after, StringComparison.Ordinal); // the shell's screen is back
            Assert.DoesNotContain("q quits", after, StringComparison.Ordinal);
        }
        finally
        {
            await traffic.CancelAsync();
            await sender;
        }
    }

    [Fact]
    public void Shell_completes_groups_subcommands_and_names_and_runs_a_command_round_trip()
    {
        using var tmux = new Tmux();
        tmux.Type($"{Fabric} --node {node.Url}; echo fp-shell-exit=$?");
        tmux.Keys("Enter");
        tmux.WaitFor(s => PromptLine().IsMatch(s), "the prompt with node and cluster");

        // Group, sub-command and pipeline name completed by Tab.
        tmux.Type("pip");
        tmux.Keys("Tab");
        tmux.WaitFor(s => LineEndsWith(s, "]> pipelines"), "completion of 'pip'");
        tmux.Type("sta");
        tmux.Keys("Tab");
        var ambiguous = tmux.WaitFor(s => s.Contains("start  stats", StringComparison.Ordinal), "the candidates of 'sta'");
        Assert.Contains("start  stats", ambiguous, StringComparison.Ordinal);
        tmux.Type("ts re");
        tmux.Keys("Tab");
        tmux.WaitFor(s => LineEndsWith(s, "]> pipelines stats replay"), "completion of the pipeline name 're'");
        tmux.Type(" --json");
        tmux.Keys("Enter");
        // The end of the JSON (the replayed file's 10 packets), then the next prompt.
        var stats = tmux.WaitForWithHistory(s => s.TrimEnd().EndsWith("]>", StringComparison.Ordinal) && s.Contains("\"captured\": 10,", StringComparison.Ordinal), "the command's JSON output and the next prompt", lines: 1000);
        Assert.Contains("\"files-created\": 1", stats, StringComparison.Ordinal);

        // Session names under mirrors.
        tmux.Type("mirrors show lab");
        tmux.Keys("Tab");
        tmux.WaitFor(s => LineEndsWith(s, "]> mirrors show lab-mirror"), "completion of the session name");
        tmux.Keys("Enter");
        tmux.WaitFor(s => Regex.IsMatch(s, @"status\s+degraded"), "mirrors show output");

        // History: Up recalls the last command; help lists the groups; exit leaves with 0.
        tmux.Keys("Up");
        tmux.WaitFor(s => s.TrimEnd().EndsWith("]> mirrors show lab-mirror", StringComparison.Ordinal), "Up to recall the last command");
        tmux.Keys("C-c");
        tmux.Type("help");
        tmux.Keys("Enter");
        tmux.WaitFor(s => s.Contains("Live view of members", StringComparison.Ordinal), "help listing the command groups");
        tmux.Type("exit");
        tmux.Keys("Enter");
        tmux.WaitFor(s => s.Contains("fp-shell-exit=0", StringComparison.Ordinal), "exit from the shell");
    }

    /// <summary>capture-pane drops trailing spaces: a completed word shows as the end of its line.</summary>
    private static bool LineEndsWith(string screen, string text) =>
        screen.Split('\n').Any(line => line.TrimEnd().EndsWith(text, StringComparison.Ordinal));

    [GeneratedRegex(@"^fp-exit=(\d+)$", RegexOptions.Multiline)]
    private static partial Regex ExitLine();

    [GeneratedRegex(@"│ loop\s+│ running[^\n]*not-encapsulated (\d+)")]
    private static partial Regex LoopDrops();

    [GeneratedRegex(@"^fabric 127\.0\.0\.1:\d+ \[cluster 1 up\]> ?$", RegexOptions.Multiline)]
    private static partial Regex PromptLine();
}
