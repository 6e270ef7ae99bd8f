using System.CommandLine;
using System.Text.Json;
using Spectre.Console;

namespace Fabric.Console.Commands;

/// <summary>
/// <c>fabric sites list</c>: each site of <c>fabric.sites</c>, its backend endpoints (secrets
/// redacted by the node), whether its agent reaches the backend, and the node the agent runs on
/// (from <c>GET /sites</c>; <c>--json</c> prints what the node answered).
/// </summary>
internal sealed class SitesCommands : ICommandGroup
{
    public Command Build(GlobalOptions globals)
    {
        var sites = new Command("sites", "Sites whose mirrors the agents keep: backends, reachability, agent nodes");
        var list = new Command("list", "Each site, its backend endpoints (secrets redacted), reachability and the agent's node");
        list.SetHandler(globals, ListAsync);
        sites.Subcommands.Add(list);
        return sites;
    }

    private static async Task<int> ListAsync(CommandContext ctx, ParseResult parse, CancellationToken ct)
    {
        var view = await ctx.Client.GetAsync("sites", ct).ConfigureAwait(false);
        if (ctx.Json)
        {
            ctx.WriteJson(view);
            return ExitCodes.Ok;
        }

        var table = new Table().Border(TableBorder.Rounded);
        table.AddColumns("SITE", "BACKEND", "ENDPOINTS", "REACHABILITY", "AGENT NODE");
        var count = 0;
        if (view.TryGetProperty("sites", out var sites) && sites.ValueKind == JsonValueKind.Array)
        {
            foreach (var s in sites.EnumerateArray())
            {
                var endpoints = s.TryGetProperty("endpoints", out var e) && e.ValueKind == JsonValueKind.Object
                    ? string.Join("\n", e.EnumerateObject().Select(p => $"{p.Name}: {p.Value.GetString()}"))
                    : "";
                table.AddRow(
                    new Text(Str(s, "name")),
                    new Text(Str(s, "backend")),
                    new Text(endpoints),
                    new Text(Str(s, "reachability")),
                    new Text(s.TryGetProperty("agentNode", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : "-"));
                count++;
            }
        }

        ctx.Out.Write(table);
        ctx.Out.WriteLine($"{count} site(s)");
        return ExitCodes.Ok;
    }

    private static string Str(JsonElement e, string key) =>
        e.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()! : "";
}
