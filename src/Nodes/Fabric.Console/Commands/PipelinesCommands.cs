using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;

namespace Fabric.Console.Commands;

/// <summary>
/// <c>fabric pipelines list | stats [NAME] [--watch] | sources NAME | stop NAME | start NAME</c>: the capture pipelines of the
/// node given by --node (GET /pipelines, GET /pipelines/stats, GET /pipelines/NAME/sources, POST /pipelines/NAME/stop|start).
/// </summary>
internal sealed class PipelinesCommands : ICommandGroup
{
    /// <summary>The decap outcome of frames without a tunnel header (<c>dropped["not-encapsulated"]</c> in the JSON).</summary>
    private const string NotEncapsulated = "not-encapsulated";

    public Command Build(GlobalOptions globals)
    {
        var pipelines = new Command("pipelines", "Capture pipelines: list them, show their counters, stop and start them");

        var list = new Command("list", "List the pipelines with their state, source, sinks and totals");
        list.SetHandler(globals, ListAsync);
        pipelines.Subcommands.Add(list);

        var name = new Argument<string?>("name") { Description = "Only this pipeline", Arity = ArgumentArity.ZeroOrOne };
        var watch = new Option<bool>("--watch") { Description = "Refresh every --interval until Ctrl-C" };
        var interval = new Option<double>("--interval") { Description = "Seconds between samples (rates are per second over it)", DefaultValueFactory = _ => 1.0 };
        var stats = new Command("stats", "Packets and bytes in and out of each stage, rates per second, drops by reason") { name, watch, interval };
        stats.SetHandler(globals, (ctx, parse, ct) => StatsAsync(ctx, parse.GetValue(name), parse.GetValue(watch), parse.GetValue(interval), ct));
        pipelines.Subcommands.Add(stats);

        var sourcesName = new Argument<string>("name") { Description = "The pipeline's name" };
        var sources = new Command("sources", "Source ids (mirror sessions) the pipeline's decap has seen: frames, bytes, first and last seen, the VLAN each marking TAP sink gives them") { sourcesName };
        sources.SetHandler(globals, (ctx, parse, ct) => SourcesAsync(ctx, parse.GetValue(sourcesName)!, ct));
        pipelines.Subcommands.Add(sources);

        pipelines.Subcommands.Add(Change(globals, "stop", "Stop a running pipeline (its counters stay readable)"));
        pipelines.Subcommands.Add(Change(globals, "start", "Start a stopped pipeline (counters start from zero)"));
        return pipelines;
    }

    private static Command Change(GlobalOptions globals, string action, string description)
    {
        var name = new Argument<string>("name") { Description = "The pipeline's name" };
        var command = new Command(action, description) { name };
        command.SetHandler(globals, async (ctx, parse, ct) =>
        {
            var pipeline = parse.GetValue(name)!;
            var result = await ctx.Client.PostAsync($"pipelines/{Uri.EscapeDataString(pipeline)}/{action}", null, ct).ConfigureAwait(false);
            if (ctx.Json)
            {
                ctx.WriteJson(result);
            }
            else
            {
                ctx.Out.WriteLine(Str(result, "message") ?? $"{action}: {pipeline}");
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static async Task<int> ListAsync(CommandContext ctx, ParseResult parse, CancellationToken ct)
    {
        var view = await ctx.Client.GetAsync("pipelines", ct).ConfigureAwait(false);
        if (ctx.Json)
        {
            ctx.WriteJson(view);
            return ExitCodes.Ok;
        }

        var table = new Table().Border(TableBorder.Rounded);
        table.AddColumns("NAME", "STATE", "SOURCE", "SINKS", "CAPTURED", "DELIVERED", "DROPPED", "ERROR");
        int count = 0;
        foreach (var p in Array(view, "pipelines"))
        {
            count++;
            table.AddRow(
                Markup.Escape(Str(p, "name") ?? "?"),
                StateMarkup(Str(p, "state")),
                Markup.Escape(Str(p, "source") ?? ""),
                Markup.Escape(SinksText(p)),
                Num(Long(p, "captured")),
                Num(Long(p, "delivered")),
                Num(Long(p, "dropped")),
                Markup.Escape(Str(p, "error") ?? ""));
        }

        ctx.Out.Write(table);
        ctx.Out.WriteLine($"{count} pipeline(s)");
        return ExitCodes.Ok;
    }

    private static async Task<int> SourcesAsync(CommandContext ctx, string name, CancellationToken ct)
    {
        var view = await ctx.Client.GetAsync($"pipelines/{Uri.EscapeDataString(name)}/sources", ct).ConfigureAwait(false);
        if (ctx.Json)
        {
            ctx.WriteJson(view);
            return ExitCodes.Ok;
        }

        var table = new Table().Border(TableBorder.Rounded);
        table.AddColumns("ID", "SOURCE", "DESCRIPTION", "FRAMES", "BYTES", "FIRST SEEN", "LAST SEEN", "VLAN");
        int count = 0;
        foreach (var s in Array(view, "sources"))
        {
            count++;
            var vlans = Array(s, "vlans").Select(v => $"{Long(v, "vlan").ToString(CultureInfo.InvariantCulture)} ({Str(v, "sink")})");
            table.AddRow(
                Long(s, "id").ToString(CultureInfo.InvariantCulture),
                Markup.Escape(Str(s, "name") ?? "?"),
                Markup.Escape(Str(s, "description") ?? ""),
                Num(Long(s, "frames")),
                Num(Long(s, "bytes")),
                Markup.Escape(Time(s, "firstSeen")),
                Markup.Escape(Time(s, "lastSeen")),
                Markup.Escape(string.Join(", ", vlans)));
        }

        ctx.Out.Write(table);
        ctx.Out.WriteLine($"{count} source(s) of at most {Long(view, "maxSources").ToString(CultureInfo.InvariantCulture)}; {Num(Long(view, "overflowed"))} frame(s) of sessions past max-sources counted as other");
        return ExitCodes.Ok;
    }

    /// <summary>A timestamp as ISO-8601 UTC (<c>2026-12-07T17:40:00.123Z</c>), "-" when null.</summary>
    private static string Time(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && v.TryGetDateTimeOffset(out var t)
            ? t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture)
            : "-";

    /// <summary>"tap-mon0 (wait), pcap-1 (drop)": each sink with its when-full (a node that does not report it: names only).</summary>
    private static string SinksText(JsonElement pipeline)
    {
        var sinks = Array(pipeline, "sinks").Select(s => s.GetString() ?? "?").ToList();
        var modes = Array(pipeline, "sinkWhenFull").Select(s => s.GetString()).ToList();
        return string.Join(", ", sinks.Select((s, i) => i < modes.Count && modes[i] is { } mode ? $"{s} ({mode})" : s));
    }

    private static async Task<int> StatsAsync(CommandContext ctx, string? name, bool watch, double interval, CancellationToken ct)
    {
        if (interval is < 0.1 or > 3600)
        {
            throw new ConsoleException("--interval: expected 0.1 to 3600 seconds", ExitCodes.Usage);
        }

        string path = name is null ? "pipelines/stats" : $"pipelines/{Uri.EscapeDataString(name)}/stats";
        var delay = TimeSpan.FromSeconds(interval);
        var previous = await ctx.Client.GetAsync(path, ct).ConfigureAwait(false);
        if (ctx.Json && !watch)
        {
            ctx.WriteJson(previous);
            return ExitCodes.Ok;
        }

        do
        {
            await Task.Delay(delay, ct).ConfigureAwait(false);
            var current = await ctx.Client.GetAsync(path, ct).ConfigureAwait(false);
            if (ctx.Json)
            {
                ctx.WriteJson(current);
            }
            else
            {
                Render(ctx, current, previous, interval);
            }

            previous = current;
        }
        while (watch && !ct.IsCancellationRequested);

        return ExitCodes.Ok;
    }

    private static void Render(CommandContext ctx, JsonElement current, JsonElement previous, double seconds)
    {
        var before = Array(previous, "pipelines").ToDictionary(p => Str(p, "name") ?? "", StringComparer.Ordinal);
        foreach (var p in Array(current, "pipelines"))
        {
            string pipelineName = Str(p, "name") ?? "?";
            var source = p.TryGetProperty("source", out var s) ? s : default;
            ctx.Out.MarkupLine(
                $"[bold]{Markup.Escape(pipelineName)}[/] {StateMarkup(Str(p, "state"))}  source {Markup.Escape(Str(source, "source") ?? "")} "
                + $"({(Bool(source, "up") ? "up" : "[red]down[/]")}, outages {Long(source, "outages")})  "
                + $"libpcap received {Num(Long(source, "kernelReceived"))} dropped {Num(Long(source, "kernelDropped"))} if-dropped {Num(Long(source, "interfaceDropped"))}  "
                + $"balanced {(Bool(p, "balanced") ? "yes" : "[red]no[/]")}");
            var table = new Table().Border(TableBorder.Rounded);
            table.AddColumns("STAGE", "IN", "OUT", "IN/s", "OUT/s", "Mbit/s OUT", "DROPPED", "DROPS BY REASON", "EVENTS");
            var old = before.TryGetValue(pipelineName, out var o)
                ? Array(o, "stages").ToDictionary(x => Str(x, "stage") ?? "", StringComparer.Ordinal)
                : [];
            var notEncapsulated = new List<string>();
            foreach (var stage in Array(p, "stages"))
            {
                string stageName = Str(stage, "stage") ?? "?";
                long inPackets = Nested(stage, "in", "packets"), outPackets = Nested(stage, "out", "packets"), outBytes = Nested(stage, "out", "bytes");
                old.TryGetValue(stageName, out var prior);
                bool hasPrior = prior.ValueKind == JsonValueKind.Object;
                double inRate = hasPrior ? (inPackets - Nested(prior, "in", "packets")) / seconds : 0;
                double outRate = hasPrior ? (outPackets - Nested(prior, "out", "packets")) / seconds : 0;
                double mbits = hasPrior ? (outBytes - Nested(prior, "out", "bytes")) * 8 / seconds / 1e6 : 0;
                // Frames that carried no tunnel header are not losses: they get their own line below the table.
                var drops = Object(stage, "dropped")
                    .Where(d => d.Name != NotEncapsulated)
                    .Select(d => (d.Name, Packets: Nested(d.Value, "packets")))
                    .Where(d => d.Packets > 0)
                    .Select(d => $"{d.Name} {Num(d.Packets)}");
                var events = Object(stage, "events")
                    .Where(e => e.Value.ValueKind == JsonValueKind.Number && e.Value.GetInt64() > 0)
                    .Select(e => $"{e.Name} {Num(e.Value.GetInt64())}");
                long dropped = Object(stage, "dropped").Where(d => d.Name != NotEncapsulated).Sum(d => Nested(d.Value, "packets"));
                long passedOver = Object(stage, "dropped").Where(d => d.Name == NotEncapsulated).Sum(d => Nested(d.Value, "packets"));
                if (passedOver > 0)
                {
                    notEncapsulated.Add($"{stageName} {Num(passedOver)}");
                }

                table.AddRow(
                    Markup.Escape(stageName),
                    Num(inPackets),
                    Num(outPackets),
                    hasPrior ? Num((long)inRate) : "",
                    hasPrior ? Num((long)outRate) : "",
                    hasPrior ? mbits.ToString("0.0", CultureInfo.InvariantCulture) : "",
                    dropped > 0 ? $"[yellow]{Num(dropped)}[/]" : "0",
                    Markup.Escape(string.Join(", ", drops)),
                    Markup.Escape(string.Join(", ", events)));
            }

            ctx.Out.Write(table);
            if (notEncapsulated.Count > 0)
            {
                ctx.Out.WriteLine("not encapsulated (no tunnel header, e.g. ICMP answers to the sender; passed over, nothing lost): " + string.Join(", ", notEncapsulated));
            }

            if (p.TryGetProperty("vnis", out var vnis) && vnis.ValueKind == JsonValueKind.Object)
            {
                var rows = Array(vnis, "vnis").Select(v => (Vni: Long(v, "vni"), Packets: Long(v, "packets"))).Where(v => v.Packets > 0).OrderByDescending(v => v.Packets).ToList();
                var shown = rows.Take(10).Select(v => $"{v.Vni} {Num(v.Packets)}").ToList();
                if (rows.Count > 10)
                {
                    shown.Add($"({rows.Count - 10} more VNIs)");
                }

                if (Long(vnis, "otherPackets") is > 0 and var other)
                {
                    shown.Add($"other {Num(other)}");
                }

                ctx.Out.WriteLine("frames per VNI: " + (shown.Count == 0 ? "none yet" : string.Join(", ", shown)));
            }
        }
    }

    private static string StateMarkup(string? state) => state switch
    {
        "running" => "[green]running[/]",
        "failed" => "[red]failed[/]",
        null => "?",
        _ => Markup.Escape(state),
    };

    private static string Num(long value) => value.ToString("#,0", CultureInfo.InvariantCulture);

    private static IEnumerable<JsonElement> Array(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array
            ? v.EnumerateArray()
            : [];

    private static IEnumerable<JsonProperty> Object(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Object
            ? v.EnumerateObject()
            : [];

    private static string? Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static long Long(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64() : 0;

    private static bool Bool(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.True;

    private static long Nested(JsonElement e, string name, string inner) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) ? Long(v, inner) : 0;

    private static long Nested(JsonElement e, string inner) => Long(e, inner);
}
