using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Fabric.Console.Commands;

/// <summary><c>fabric cluster members|leave|down</c>: membership as the node sees it.</summary>
internal sealed class ClusterCommands : ICommandGroup
{
    public Command Build(GlobalOptions globals)
    {
        var cluster = new Command("cluster", "Cluster membership: list members, make one leave, down one");

        var members = new Command("members", "List the cluster's members, their status and roles");
        members.SetHandler(globals, MembersAsync);
        cluster.Subcommands.Add(members);

        cluster.Subcommands.Add(Mutation(globals, "leave", "Ask a member to leave the cluster gracefully"));
        cluster.Subcommands.Add(Mutation(globals, "down", "Mark a member as down (it is removed; use for a dead node)"));
        return cluster;
    }

    private static Command Mutation(GlobalOptions globals, string action, string description)
    {
        var address = new Argument<string>("address") { Description = "The member's address, e.g. akka.tcp://fabric@10.0.0.5:4053" };
        var command = new Command(action, description) { address };
        command.SetHandler(globals, async (ctx, parse, ct) =>
        {
            var target = parse.GetValue(address)!;
            var result = await ctx.Client.PostAsync($"cluster/{action}", new JsonObject { ["address"] = target }, ct).ConfigureAwait(false);
            if (ctx.Json)
            {
                ctx.WriteJson(result);
            }
            else
            {
                ctx.Out.MarkupLineInterpolated($"{action}: {target}");
            }

            return ExitCodes.Ok;
        });
        return command;
    }

    private static async Task<int> MembersAsync(CommandContext ctx, ParseResult parse, CancellationToken ct)
    {
        var view = await ctx.Client.GetAsync("cluster/members", ct).ConfigureAwait(false);
        if (ctx.Json)
        {
            ctx.WriteJson(view);
            return ExitCodes.Ok;
        }

        var self = Str(view, "self");
        var leader = Str(view, "leader");
        var oldest = Str(view, "oldest");
        var unreachable = view.TryGetProperty("unreachable", out var u) && u.ValueKind == JsonValueKind.Array
            ? u.EnumerateArray().Select(e => e.GetString() ?? "").ToHashSet(StringComparer.Ordinal)
            : [];

        var table = new Table().Border(TableBorder.Rounded);
        table.AddColumns("ADDRESS", "STATUS", "REACHABLE", "ROLES", "");
        var count = 0;
        var byStatus = new SortedDictionary<string, int>(StringComparer.Ordinal);
        if (view.TryGetProperty("members", out var list) && list.ValueKind == JsonValueKind.Array)
        {
            foreach (var m in list.EnumerateArray())
            {
                count++;
                var address = Str(m, "address") ?? "?";
                var status = Str(m, "status") ?? "?";
                byStatus[status] = byStatus.GetValueOrDefault(status) + 1;
                var roles = m.TryGetProperty("roles", out var r) && r.ValueKind == JsonValueKind.Array
                    ? string.Join(",", r.EnumerateArray().Select(x => x.GetString()))
                    : "";
                var marks = new List<string>(3);
                if (address == self) marks.Add("self");
                if (address == leader) marks.Add("leader");
                if (address == oldest) marks.Add("oldest");
                table.AddRow(
                    Markup.Escape(address),
                    Markup.Escape(status),
                    unreachable.Contains(address) ? "[red]no[/]" : "yes",
                    Markup.Escape(roles),
                    Markup.Escape(string.Join(" ", marks)));
            }
        }

        ctx.Out.Write(table);
        var summary = string.Join(", ", byStatus.Select(kv => $"{kv.Value} {kv.Key}"));
        ctx.Out.WriteLine($"{count} member(s): {(summary.Length == 0 ? "none" : summary)}; {unreachable.Count} unreachable");
        return ExitCodes.Ok;
    }

    private static string? Str(JsonElement e, string name) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
            ? v.GetString()
            : null;
}
