using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace Fabric.Console.Commands;

/// <summary>
/// <c>fabric top [--interval S]</c>: a live full-screen view of the node given by --node, refreshed
/// every interval: cluster members and roles, each pipeline's packets/s, bits/s and drops by reason
/// with a sparkline of recent samples, each mirror session's health and last repair. q or Ctrl-C
/// quits; the terminal's screen is restored (alternate screen).
/// </summary>
internal sealed class TopCommand : ICommandGroup
{
    public Command Build(GlobalOptions globals)
    {
        var interval = new Option<double>("--interval") { Description = "Seconds between refreshes", DefaultValueFactory = _ => 1.0 };
        var top = new Command("top", "Live view of members, pipelines (rates, drops) and mirrors; q quits") { interval };
        top.SetHandler(globals, (ctx, parse, ct) => RunAsync(ctx, parse.GetValue(interval), ct));
        return top;
    }

    private static async Task<int> RunAsync(CommandContext ctx, double seconds, CancellationToken ct)
    {
        if (!(seconds >= 0.1))
        {
            throw new ConsoleException($"--interval: must be at least 0.1 seconds, got {seconds.ToString(CultureInfo.InvariantCulture)}", ExitCodes.Usage);
        }

        if (System.Console.IsOutputRedirected || System.Console.IsInputRedirected || ctx.Stdout != System.Console.Out)
        {
            throw new ConsoleException("top needs a terminal; for scripts use 'fabric pipelines stats --json' and 'fabric mirrors list --json'", ExitCodes.Usage);
        }

        var model = new TopModel();
        // Fail before taking over the screen when the node cannot be reached.
        model.Update(await TopSample.ReadAsync(ctx.Client, ct).ConfigureAwait(false), TimeSpan.FromSeconds(seconds));

        using var quit = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var keys = Task.Run(() => WaitForQuitKey(quit), CancellationToken.None);
        var console = AnsiConsole.Console;
        try
        {
            System.Console.CursorVisible = false;
            // Ctrl-C arrives as a key (not SIGINT) while the view runs, so it quits like q.
            System.Console.TreatControlCAsInput = true;
            // Spectre's alternate screen and live display are synchronous: the loop blocks on the
            // quit token between refreshes (this is the command's only work).
            console.AlternateScreen(() => console.Live(model.Render(ctx.Client.Node))
                .AutoClear(false)
                .Overflow(VerticalOverflow.Crop)
                .Start(live =>
                {
                    var interval = TimeSpan.FromSeconds(seconds);
                    while (!quit.Token.WaitHandle.WaitOne(interval))
                    {
                        try
                        {
                            model.Update(TopSample.ReadAsync(ctx.Client, quit.Token).GetAwaiter().GetResult(), interval);
                        }
                        catch (OperationCanceledException) when (quit.IsCancellationRequested)
                        {
                            break;
                        }
                        catch (ConsoleException e)
                        {
                            model.Problem = e.Message; // shown in the header; the next refresh tries again
                        }

                        live.UpdateTarget(model.Render(ctx.Client.Node));
                    }
                }));
        }
        finally
        {
            await quit.CancelAsync().ConfigureAwait(false);
            System.Console.TreatControlCAsInput = false;
            System.Console.CursorVisible = true;
        }

        await keys.ConfigureAwait(false);
        return ExitCodes.Ok;
    }

    /// <summary>Reads keys until q/Q/Esc (or Ctrl-C, which also cancels <paramref name="quit"/> through the host).</summary>
    private static void WaitForQuitKey(CancellationTokenSource quit)
    {
        while (!quit.IsCancellationRequested)
        {
            if (!System.Console.KeyAvailable)
            {
                quit.Token.WaitHandle.WaitOne(50);
                continue;
            }

            var key = System.Console.ReadKey(intercept: true);
            if (key.Key is ConsoleKey.Q or ConsoleKey.Escape || key.KeyChar == '\u0003' || (key.Key == ConsoleKey.C && key.Modifiers.HasFlag(ConsoleModifiers.Control)))
            {
                quit.Cancel();
            }
        }
    }
}

/// <summary>One poll of the node: members, pipeline stats, mirror sessions (each may be missing with a reason).</summary>
internal sealed record TopSample(JsonElement Members, JsonElement? Pipelines, string? PipelinesProblem, JsonElement? Mirrors, string? MirrorsProblem)
{
    public static async Task<TopSample> ReadAsync(ManagementClient client, CancellationToken ct)
    {
        var members = await client.GetAsync("cluster/members", ct).ConfigureAwait(false);
        var (pipelines, pipelinesProblem) = await Optional(client, "pipelines/stats", ct).ConfigureAwait(false);
        var (mirrors, mirrorsProblem) = await Optional(client, "mirrors", ct).ConfigureAwait(false);
        return new TopSample(members, pipelines, pipelinesProblem, mirrors, mirrorsProblem);
    }

    // A node without the capture role has no pipelines; the mirror supervisor may be unreachable:
    // the view shows why instead of failing.
    private static async Task<(JsonElement?, string?)> Optional(ManagementClient client, string path, CancellationToken ct)
    {
        try
        {
            return (await client.GetAsync(path, ct).ConfigureAwait(false), null);
        }
        catch (ConsoleException e)
        {
            return (null, e.Message);
        }
    }
}

/// <summary>What <c>fabric top</c> shows: the last sample, per-pipeline rates and their short history.</summary>
internal sealed class TopModel
{
    private const int HistoryLength = 30;
    private static readonly string[] s_bars = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"];
    private readonly Dictionary<string, PipelineRates> _rates = new(StringComparer.Ordinal);
    private TopSample? _sample;
    private DateTimeOffset _at;

    /// <summary>The last refresh's problem (node unreachable), shown until a refresh succeeds.</summary>
    public string? Problem { get; set; }

    public void Update(TopSample sample, TimeSpan interval)
    {
        _sample = sample;
        _at = DateTimeOffset.UtcNow;
        Problem = null;
        if (sample.Pipelines is not { } stats || !stats.TryGetProperty("pipelines", out var list))
        {
            return;
        }

        foreach (var pipeline in list.EnumerateArray())
        {
            var name = pipeline.GetProperty("name").GetString() ?? "";
            if (!_rates.TryGetValue(name, out var rates))
            {
                _rates[name] = rates = new PipelineRates();
            }

            rates.Add(Totals.From(pipeline), interval.TotalSeconds);
        }
    }

    public IRenderable Render(Uri node)
    {
        var header = new Markup(
            $"[bold]fabric top[/]  node [blue]{Markup.Escape(node.ToString())}[/]  " +
            $"{_at:HH:mm:ss} UTC  [grey]q quits[/]" +
            (Problem is null ? "" : $"\n[red]{Markup.Escape(Problem)}[/]"));
        return new Rows(header, Members(), Pipelines(), Mirrors());
    }

    private Table Members()
    {
        var table = new Table().Title("members").Expand().AddColumns("address", "status", "roles", "");
        if (_sample is null)
        {
            return table;
        }

        var leader = Str(_sample.Members, "leader");
        var self = Str(_sample.Members, "self");
        foreach (var member in _sample.Members.GetProperty("members").EnumerateArray())
        {
            var address = Str(member, "address") ?? "";
            var roles = member.TryGetProperty("roles", out var r) ? string.Join(",", r.EnumerateArray().Select(x => x.GetString())) : "";
            var marks = (address == leader ? "leader " : "") + (address == self ? "(this node)" : "");
            table.AddRow(Markup.Escape(address), Markup.Escape(Str(member, "status") ?? ""), Markup.Escape(roles), marks);
        }

        foreach (var unreachable in _sample.Members.GetProperty("unreachable").EnumerateArray())
        {
            table.AddRow($"[red]{Markup.Escape(Str(unreachable, "address") ?? unreachable.ToString())}[/]", "[red]unreachable[/]", "", "");
        }

        return table;
    }

    private Table Pipelines()
    {
        var table = new Table().Title("pipelines").Expand()
            .AddColumns("pipeline", "state", "captured/s", "bits/s", "delivered/s", "drops/s", "by reason (total)", "packets/s history", "drops/s history");
        if (_sample?.Pipelines is not { } stats)
        {
            table.AddRow(Markup.Escape(_sample?.PipelinesProblem ?? "no pipelines"), "", "", "", "", "", "", "", "");
            return table;
        }

        foreach (var pipeline in stats.GetProperty("pipelines").EnumerateArray())
        {
            var name = Str(pipeline, "name") ?? "";
            var rates = _rates.GetValueOrDefault(name) ?? new PipelineRates();
            var last = rates.Last;
            var reasons = string.Join("\n", last.DropsByReason.Where(d => d.Value > 0).OrderByDescending(d => d.Value).Take(6).Select(d => $"{d.Key} {d.Value.ToString(CultureInfo.InvariantCulture)}"));
            table.AddRow(
                Markup.Escape(name),
                Markup.Escape(Str(pipeline, "state") ?? ""),
                Rate(rates.CapturedPerSecond),
                Bits(rates.BitsPerSecond),
                Rate(rates.DeliveredPerSecond),
                rates.DropsPerSecond > 0 ? $"[red]{Rate(rates.DropsPerSecond)}[/]" : Rate(rates.DropsPerSecond),
                Markup.Escape(reasons.Length == 0 ? "-" : reasons),
                Sparkline(rates.CapturedHistory),
                Sparkline(rates.DropsHistory));
        }

        return table;
    }

    private Table Mirrors()
    {
        var table = new Table().Title("mirrors").Expand().AddColumns("session", "site", "health", "reason", "repairs", "last repair");
        if (_sample?.Mirrors is not { } mirrors)
        {
            table.AddRow(Markup.Escape(_sample?.MirrorsProblem ?? "no mirrors"), "", "", "", "", "");
            return table;
        }

        foreach (var session in mirrors.GetProperty("sessions").EnumerateArray())
        {
            var status = session.GetProperty("status");
            var health = Str(status, "health") ?? "";
            var colour = health switch { "healthy" => "green", "repairing" => "yellow", "disabled" => "grey", _ => "red" };
            var last = session.TryGetProperty("lastRepair", out var repair) && repair.ValueKind == JsonValueKind.Object
                ? $"{repair.GetProperty("detectedAt").GetDateTimeOffset():HH:mm:ss} {Markup.Escape(Str(repair, "missing") ?? "")} in {repair.GetProperty("durationMs").GetDouble().ToString("0.#", CultureInfo.InvariantCulture)} ms" +
                  (Str(repair, "error") is { } error ? $" [red]{Markup.Escape(error)}[/]" : "")
                : "-";
            table.AddRow(
                Markup.Escape(Str(session, "name") ?? ""),
                Markup.Escape(Str(session, "site") ?? ""),
                $"[{colour}]{Markup.Escape(health)}[/]",
                Markup.Escape(Str(status, "reason") ?? ""),
                session.TryGetProperty("repairCount", out var count) ? count.ToString() : "0",
                last);
        }

        return table;
    }

    internal static string Sparkline(IReadOnlyList<double> values)
    {
        if (values.Count == 0)
        {
            return "";
        }

        var max = values.Max();
        var line = new StringBuilder(values.Count);
        foreach (var value in values)
        {
            line.Append(max <= 0 ? s_bars[0] : s_bars[(int)Math.Round(value / max * (s_bars.Length - 1))]);
        }

        return line.ToString();
    }

    private static string Rate(double value) => value.ToString(value >= 100 ? "N0" : "0.#", CultureInfo.InvariantCulture);

    private static string Bits(double value) => value switch
    {
        >= 1e9 => (value / 1e9).ToString("0.##", CultureInfo.InvariantCulture) + " Gb",
        >= 1e6 => (value / 1e6).ToString("0.##", CultureInfo.InvariantCulture) + " Mb",
        >= 1e3 => (value / 1e3).ToString("0.##", CultureInfo.InvariantCulture) + " kb",
        _ => value.ToString("0", CultureInfo.InvariantCulture) + " b",
    };

    private static string? Str(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>Frames without a tunnel header: passed over, listed among the reasons but not counted as drops (as `pipelines stats`).</summary>
    private const string NotEncapsulated = "not-encapsulated";

    /// <summary>Cumulative counters of one pipeline in one sample.</summary>
    internal sealed record Totals(long CapturedPackets, long CapturedBytes, long DeliveredPackets, long Dropped, Dictionary<string, long> DropsByReason)
    {
        public static readonly Totals Zero = new(0, 0, 0, 0, new Dictionary<string, long>(StringComparer.Ordinal));

        public static Totals From(JsonElement pipeline)
        {
            long capturedPackets = 0, capturedBytes = 0, delivered = 0, dropped = 0;
            var byReason = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var stage in pipeline.GetProperty("stages").EnumerateArray())
            {
                var name = stage.GetProperty("stage").GetString();
                if (name == "capture")
                {
                    capturedPackets = stage.GetProperty("in").GetProperty("packets").GetInt64();
                    capturedBytes = stage.GetProperty("in").GetProperty("bytes").GetInt64();
                }
                else if (name == "decap")
                {
                    delivered = stage.GetProperty("out").GetProperty("packets").GetInt64();
                }

                foreach (var reason in stage.GetProperty("dropped").EnumerateObject())
                {
                    var packets = reason.Value.GetProperty("packets").GetInt64();
                    if (reason.Name != NotEncapsulated)
                    {
                        dropped += packets;
                    }

                    byReason[reason.Name] = byReason.GetValueOrDefault(reason.Name) + packets;
                }
            }

            return new Totals(capturedPackets, capturedBytes, delivered, dropped, byReason);
        }
    }

    /// <summary>Per-second rates between the last two samples, and their recent history.</summary>
    internal sealed class PipelineRates
    {
        private readonly List<double> _captured = [];
        private readonly List<double> _drops = [];
        private Totals? _previous;

        public Totals Last => _previous ?? Totals.Zero;

        public double CapturedPerSecond { get; private set; }

        public double BitsPerSecond { get; private set; }

        public double DeliveredPerSecond { get; private set; }

        public double DropsPerSecond { get; private set; }

        public IReadOnlyList<double> CapturedHistory => _captured;

        public IReadOnlyList<double> DropsHistory => _drops;

        public void Add(Totals totals, double seconds)
        {
            if (_previous is { } previous && seconds > 0)
            {
                // A restarted pipeline starts from zero: a negative delta counts as the new total.
                CapturedPerSecond = Delta(totals.CapturedPackets, previous.CapturedPackets) / seconds;
                BitsPerSecond = Delta(totals.CapturedBytes, previous.CapturedBytes) * 8 / seconds;
                DeliveredPerSecond = Delta(totals.DeliveredPackets, previous.DeliveredPackets) / seconds;
                DropsPerSecond = Delta(totals.Dropped, previous.Dropped) / seconds;
                Push(_captured, CapturedPerSecond);
                Push(_drops, DropsPerSecond);
            }

            _previous = totals;
        }

        private static double Delta(long now, long before) => now >= before ? now - before : now;

        private static void Push(List<double> history, double value)
        {
            history.Add(value);
            if (history.Count > HistoryLength)
            {
                history.RemoveAt(0);
            }
        }
    }
}
