using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Fabric.Console.Commands;

/// <summary>
/// <c>fabric mirrors list|show|add|remove|repair|history|paths</c>: mirror sessions kept alive by the
/// supervisor and the site agents (all through the node's <c>/mirrors</c> routes; <c>paths</c>
/// through <c>/mirror-paths</c>; <c>--json</c> prints what the node answered).
/// </summary>
internal sealed class MirrorsCommands : ICommandGroup
{
    public Command Build(GlobalOptions globals)
    {
        var mirrors = new Command("mirrors", "Mirror sessions: status, repairs, define and remove");

        var list = new Command("list", "Every session with its status, last repair and repair count");
        list.SetHandler(globals, ListAsync);
        mirrors.Subcommands.Add(list);

        var showName = NameArgument();
        var show = new Command("show", "One session: definition, status, last repair") { showName };
        show.SetHandler(globals, (ctx, parse, ct) => ShowAsync(ctx, parse.GetValue(showName)!, ct));
        mirrors.Subcommands.Add(show);

        mirrors.Subcommands.Add(BuildAdd(globals));

        var removeName = NameArgument();
        var remove = new Command("remove", "Remove a session (Fabric takes its mirror away; removing an unknown session is not an error)") { removeName };
        remove.SetHandler(globals, async (ctx, parse, ct) =>
        {
            var name = parse.GetValue(removeName)!;
            var result = await ctx.Client.DeleteAsync("mirrors/" + Uri.EscapeDataString(name), ct).ConfigureAwait(false);
            WriteCommandResult(ctx, result);
            return ExitCodes.Ok;
        });
        mirrors.Subcommands.Add(remove);

        var repairName = NameArgument();
        var repair = new Command("repair", "Reconcile a session now (its site's agent compares and repairs)") { repairName };
        repair.SetHandler(globals, async (ctx, parse, ct) =>
        {
            var name = parse.GetValue(repairName)!;
            var result = await ctx.Client.PostAsync($"mirrors/{Uri.EscapeDataString(name)}/repair", new JsonObject(), ct).ConfigureAwait(false);
            if (ctx.Json)
            {
                ctx.WriteJson(result);
                return ExitCodes.Ok;
            }

            var drift = Str(result, "drift");
            ctx.Out.WriteLine(drift is null ? $"{name}: in sync, nothing to repair" : $"{name}: repairing: {drift}");
            if (result.TryGetProperty("status", out var status) && status.ValueKind == JsonValueKind.Object)
            {
                ctx.Out.WriteLine($"status: {Str(status, "describe")}");
            }

            return ExitCodes.Ok;
        });
        mirrors.Subcommands.Add(repair);

        var historyName = NameArgument();
        var limit = new Option<int>("--limit") { Description = "Newest entries to show", DefaultValueFactory = _ => 50 };
        var history = new Command("history", "A session's audit trail: definitions, observed statuses and repairs (when, what was missing, how long)") { historyName, limit };
        history.SetHandler(globals, (ctx, parse, ct) => HistoryAsync(ctx, parse.GetValue(historyName)!, parse.GetValue(limit), ct));
        mirrors.Subcommands.Add(history);

        var pathsRule = new Argument<string?>("name") { Description = "Only this aws rule (session name)", Arity = ArgumentArity.ZeroOrOne };
        var paths = new Command("paths", "AWS sessions end to end: source ENI -> session (id, number, VNI) -> target -> receiving pipeline and its sinks, with the frames of each VNI the pipeline counted") { pathsRule };
        paths.SetHandler(globals, (ctx, parse, ct) => PathsAsync(ctx, parse.GetValue(pathsRule), ct));
        mirrors.Subcommands.Add(paths);
        return mirrors;
    }

    private static Argument<string> NameArgument() => new("name") { Description = "The session's name" };

    private static Command BuildAdd(GlobalOptions globals)
    {
        var name = NameArgument();
        var site = new Option<string>("--site") { Description = "Site (fabric.sites[].name) whose agent applies it", Required = true };
        var backend = new Option<string?>("--backend") { Description = "ovs, tc, proxmox, aws or iosxe (default: the site's backend)" };
        var bridge = new Option<string?>("--bridge") { Description = "OVS bridge, e.g. vmbr1 (required for ovs)" };
        var source = new Option<string[]>("--source") { Description = "A source, repeatable: vm:101/net1, a port name, or vlan:100", Required = true, AllowMultipleArgumentsPerToken = false };
        var output = new Option<string>("--output") { Description = "Where mirrored frames go: vm:103/net1, a port name, or vlan:N", Required = true };
        var direction = new Option<string>("--direction") { Description = "both, ingress or egress", DefaultValueFactory = _ => "both" };
        var snaplen = new Option<int?>("--snaplen") { Description = "Bytes kept per mirrored frame, 14-65535 (ovs only)" };
        var disabled = new Option<bool>("--disabled") { Description = "Define the session without applying it" };
        var sessionNumber = new Option<int?>("--session-number") { Description = "iosxe: monitor session N (1-1024); aws: session number, lowest wins (1-32766, default 1)" };
        var erspanId = new Option<int?>("--erspan-id") { Description = "iosxe: ERSPAN id, 1-1023" };
        var originIp = new Option<string?>("--origin-ip") { Description = "iosxe: ERSPAN origin IPv4 address (--output is the destination address)" };
        var mtu = new Option<int?>("--mtu") { Description = "iosxe: ERSPAN MTU, 176-9000" };
        var filterId = new Option<string?>("--filter-id") { Description = "aws: traffic mirror filter tmf-… (--output is the target tmt-…, --source a selector tag:K=V, vpc:vpc-…, subnet:subnet-…)" };
        var vni = new Option<int?>("--vni") { Description = "aws: VXLAN network identifier, 0-16777215 (default: AWS picks a unique one per session)" };
        var packetLength = new Option<int?>("--packet-length") { Description = "aws: bytes mirrored per packet, 1-8947" };
        var pipeline = new Option<string?>("--pipeline") { Description = "aws: the pipeline on the sensor that receives the VXLAN traffic (shown by `fabric mirrors paths`)" };
        var add = new Command("add", "Define a session, or change the session of that name")
        {
            name, site, backend, bridge, source, output, direction, snaplen, disabled, sessionNumber, erspanId, originIp, mtu, filterId, vni, packetLength, pipeline,
        };
        add.SetHandler(globals, async (ctx, parse, ct) =>
        {
            var body = new JsonObject
            {
                ["name"] = parse.GetValue(name),
                ["site"] = parse.GetValue(site),
                ["sources"] = new JsonArray([.. (parse.GetValue(source) ?? []).Select(v => (JsonNode?)v)]),
                ["direction"] = parse.GetValue(direction),
                ["output"] = parse.GetValue(output),
                ["enabled"] = !parse.GetValue(disabled),
            };
            if (parse.GetValue(backend) is { } b)
            {
                body["backend"] = b;
            }

            if (parse.GetValue(bridge) is { } br)
            {
                body["bridge"] = br;
            }

            if (parse.GetValue(snaplen) is { } s)
            {
                body["snaplen"] = s;
            }

            foreach (var (key, value) in new (string, JsonNode?)[]
            {
                ("session-number", parse.GetValue(sessionNumber)), ("erspan-id", parse.GetValue(erspanId)), ("origin-ip", parse.GetValue(originIp)),
                ("mtu", parse.GetValue(mtu)), ("filter-id", parse.GetValue(filterId)), ("vni", parse.GetValue(vni)), ("packet-length", parse.GetValue(packetLength)),
                ("pipeline", parse.GetValue(pipeline)),
            })
            {
                if (value is not null)
                {
                    body[key] = value;
                }
            }

            var result = await ctx.Client.PostAsync("mirrors", body, ct).ConfigureAwait(false);
            WriteCommandResult(ctx, result);
            return ExitCodes.Ok;
        });
        return add;
    }

    private static void WriteCommandResult(CommandContext ctx, JsonElement result)
    {
        if (ctx.Json)
        {
            ctx.WriteJson(result);
        }
        else
        {
            ctx.Out.WriteLine(Str(result, "message") ?? "done");
        }
    }

    private static async Task<int> ListAsync(CommandContext ctx, ParseResult parse, CancellationToken ct)
    {
        var view = await ctx.Client.GetAsync("mirrors", ct).ConfigureAwait(false);
        if (ctx.Json)
        {
            ctx.WriteJson(view);
            return ExitCodes.Ok;
        }

        var table = new Table().Border(TableBorder.Rounded);
        table.AddColumns("NAME", "SITE", "STATUS", "LAST REPAIR", "REPAIRS", "SOURCES", "OUTPUT");
        var count = 0;
        if (view.TryGetProperty("sessions", out var sessions) && sessions.ValueKind == JsonValueKind.Array)
        {
            foreach (var s in sessions.EnumerateArray())
            {
                count++;
                table.AddRow(
                    Markup.Escape(Str(s, "name") ?? "?"),
                    Markup.Escape(Str(s, "site") ?? "?"),
                    StatusMarkup(s),
                    Markup.Escape(LastRepair(s)),
                    Number(s, "repairCount"),
                    Markup.Escape(string.Join(", ", Strings(s, "sources"))),
                    Markup.Escape(Str(s, "output") ?? ""));
            }
        }

        ctx.Out.Write(table);
        ctx.Out.WriteLine($"{count} session(s)");
        if (view.TryGetProperty("journal", out var journal) && journal.ValueKind == JsonValueKind.Object)
        {
            ctx.Out.WriteLine(JournalLine(journal));
        }

        return ExitCodes.Ok;
    }

    /// <summary>"journal: available ..." or "journal: UNAVAILABLE since ... (problem); N event(s) kept in memory ...".</summary>
    private static string JournalLine(JsonElement journal)
    {
        var pending = journal.TryGetProperty("pending", out var p) && p.TryGetInt64(out var n) ? n : 0;
        var failures = journal.TryGetProperty("failures", out var f) && f.TryGetInt64(out var m) ? m : 0;
        var available = journal.TryGetProperty("available", out var a) && a.ValueKind == JsonValueKind.True;
        return available
            ? $"journal: available ({failures} failure(s) since the supervisor started{(pending > 0 ? $", {pending} event(s) being written" : "")})"
            : $"journal: UNAVAILABLE since {Str(journal, "unavailableSince") ?? "?"} ({Str(journal, "problem") ?? "?"}); {pending} event(s) kept in memory until it is back; adding or removing mirrors is refused meanwhile";
    }

    private static async Task<int> ShowAsync(CommandContext ctx, string name, CancellationToken ct)
    {
        var s = await ctx.Client.GetAsync("mirrors/" + Uri.EscapeDataString(name), ct).ConfigureAwait(false);
        if (ctx.Json)
        {
            ctx.WriteJson(s);
            return ExitCodes.Ok;
        }

        var grid = new Grid().AddColumn().AddColumn();
        void Row(string key, string value) => grid.AddRow(new Text(key), new Text(value));
        Row("name", Str(s, "name") ?? "");
        Row("site", Str(s, "site") ?? "");
        Row("backend", Str(s, "backend") ?? "");
        if (Str(s, "bridge") is { Length: > 0 } bridge)
        {
            Row("bridge", bridge);
        }

        Row("sources", string.Join(", ", Strings(s, "sources")));
        Row("direction", Str(s, "direction") ?? "");
        Row("output", Str(s, "output") ?? "");
        Row("snaplen", s.TryGetProperty("snaplen", out var snap) && snap.ValueKind == JsonValueKind.Number ? snap.GetInt32().ToString(CultureInfo.InvariantCulture) : "whole frames");
        if (s.TryGetProperty("options", out var options) && options.ValueKind == JsonValueKind.Object)
        {
            foreach (var option in options.EnumerateObject().Where(o => o.Value.ValueKind != JsonValueKind.Null))
            {
                Row(option.Name, option.Value.ToString());
            }
        }

        Row("enabled", s.TryGetProperty("enabled", out var en) && en.ValueKind == JsonValueKind.True ? "yes" : "no");
        Row("status", s.TryGetProperty("status", out var st) ? Str(st, "describe") ?? "" : "");
        Row("repairs", Number(s, "repairCount"));
        Row("last repair", LastRepair(s));
        ctx.Out.Write(grid);
        if (s.TryGetProperty("backendSessions", out var held) && held.ValueKind == JsonValueKind.Array)
        {
            var table = new Table().Border(TableBorder.Rounded);
            table.AddColumns("SOURCE", "SESSION", "NUMBER", "VNI", "TARGET");
            foreach (var b in held.EnumerateArray())
            {
                table.AddRow(new Text(Source(b)), new Text(Str(b, "id") ?? ""), new Text(Number(b, "sessionNumber")), new Text(Number(b, "vni")), new Text(Target(b)));
            }

            ctx.Out.Write(table);
            ctx.Out.WriteLine($"{held.GetArrayLength()} backend session(s)");
        }

        return ExitCodes.Ok;
    }

    private static async Task<int> PathsAsync(CommandContext ctx, string? rule, CancellationToken ct)
    {
        var view = await ctx.Client.GetAsync(rule is null ? "mirror-paths" : "mirror-paths?rule=" + Uri.EscapeDataString(rule), ct).ConfigureAwait(false);
        if (ctx.Json)
        {
            ctx.WriteJson(view);
            return ExitCodes.Ok;
        }

        var table = new Table().Border(TableBorder.Rounded);
        table.AddColumns("RULE", "SOURCE", "SESSION", "VNI", "TARGET", "PIPELINE", "SINKS", "PACKETS", "NOTE");
        var count = 0;
        foreach (var p in Elements(view, "paths"))
        {
            count++;
            var receivers = Elements(p, "receivers").ToList();
            var session = Str(p, "session") is { } id ? $"{id}\n#{Number(p, "sessionNumber")}" : "-";
            var pipeline = Str(p, "pipeline") is { } name
                ? receivers.Count == 0 ? name : name + "\n" + string.Join("\n", receivers.Select(r => $"{Str(r, "node")} ({Str(r, "state")})"))
                : "-";
            var sinks = string.Join("\n", receivers.SelectMany(r => Strings(r, "sinks")).Distinct(StringComparer.Ordinal));
            table.AddRow(
                new Text(Str(p, "rule") ?? "?"),
                new Text(Str(p, "source") is null ? "-" : Source(p)),
                new Text(session),
                new Text(Number(p, "vni", "-")),
                new Text(Target(p)),
                new Text(pipeline),
                new Text(sinks.Length == 0 ? "-" : sinks),
                new Text(Number(p, "packets", "?")),
                new Text(Str(p, "note") ?? ""));
        }

        ctx.Out.Write(table);
        ctx.Out.WriteLine($"{count} path(s)");
        var unknown = Elements(view, "unknown").ToList();
        if (unknown.Count > 0)
        {
            var u = new Table().Border(TableBorder.Rounded).Title("VNIs received that belong to no session");
            u.AddColumns("PIPELINE", "NODE", "VNI", "PACKETS", "BYTES");
            foreach (var e in unknown)
            {
                u.AddRow(new Text(Str(e, "pipeline") ?? ""), new Text(Str(e, "node") ?? ""), new Text("unknown " + (Str(e, "vni") ?? "")), new Text(Number(e, "packets")), new Text(Number(e, "bytes")));
            }

            ctx.Out.Write(u);
        }

        foreach (var problem in Elements(view, "problems"))
        {
            ctx.Out.WriteLine("warning: " + problem.GetString());
        }

        return ExitCodes.Ok;
    }

    /// <summary><c>eni-… i-… (Name)</c> of a backend session or path row.</summary>
    private static string Source(JsonElement e)
    {
        var text = Str(e, "source") ?? "";
        if (Str(e, "instance") is { } instance)
        {
            text += "\n" + instance;
        }

        if (Str(e, "sourceName") is { } name)
        {
            text += $" ({name})";
        }

        return text;
    }

    private static string Target(JsonElement e) =>
        Str(e, "targetDetail") is { } detail ? $"{Str(e, "target")}\n{detail}" : Str(e, "target") ?? "";

    private static IEnumerable<JsonElement> Elements(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array ? v.EnumerateArray() : [];

    private static async Task<int> HistoryAsync(CommandContext ctx, string name, int limit, CancellationToken ct)
    {
        if (limit < 1)
        {
            throw new ConsoleException($"--limit: must be a positive number, got {limit}", ExitCodes.Usage);
        }

        var view = await ctx.Client.GetAsync($"mirrors/{Uri.EscapeDataString(name)}/history?limit={limit}", ct).ConfigureAwait(false);
        if (ctx.Json)
        {
            ctx.WriteJson(view);
            return ExitCodes.Ok;
        }

        var table = new Table().Border(TableBorder.Rounded);
        table.AddColumns("WHEN (UTC)", "KIND", "WHAT");
        if (view.TryGetProperty("entries", out var entries) && entries.ValueKind == JsonValueKind.Array)
        {
            foreach (var e in entries.EnumerateArray())
            {
                var at = e.TryGetProperty("at", out var a) && a.TryGetDateTimeOffset(out var when) ? when.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture) : "";
                table.AddRow(Markup.Escape(at), Markup.Escape(Str(e, "kind") ?? ""), Markup.Escape(Str(e, "text") ?? ""));
            }
        }

        ctx.Out.Write(table);
        return ExitCodes.Ok;
    }

    private static string StatusMarkup(JsonElement session)
    {
        if (!session.TryGetProperty("status", out var status) || status.ValueKind != JsonValueKind.Object)
        {
            return "?";
        }

        var text = Markup.Escape(Str(status, "describe") ?? "?");
        return Str(status, "health") switch
        {
            "healthy" => $"[green]{text}[/]",
            "repairing" => $"[yellow]{text}[/]",
            "degraded" => $"[yellow]{text}[/]",
            "failed" => $"[red]{text}[/]",
            _ => text,
        };
    }

    private static string LastRepair(JsonElement session)
    {
        if (!session.TryGetProperty("lastRepair", out var r) || r.ValueKind != JsonValueKind.Object)
        {
            return "never";
        }

        var at = r.TryGetProperty("detectedAt", out var a) && a.TryGetDateTimeOffset(out var when) ? when.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture) : "?";
        var ms = r.TryGetProperty("durationMs", out var d) && d.ValueKind == JsonValueKind.Number ? d.GetDouble().ToString("0.0", CultureInfo.InvariantCulture) : "?";
        var error = Str(r, "error");
        return error is null ? $"{at} ({Str(r, "trigger")}, {ms} ms)" : $"{at} failed: {error}";
    }

    private static string Number(JsonElement e, string name, string absent = "0") =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt64().ToString(CultureInfo.InvariantCulture) : absent;

    private static IEnumerable<string> Strings(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Array ? v.EnumerateArray().Select(x => x.GetString() ?? "") : [];

    private static string? Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
