using System.Text.Json;
using Akka.Actor;
using Akka.Cluster;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Fabric.Node.Management;

/// <summary>
/// <c>GET /cluster/members</c>, <c>POST /cluster/leave</c>, <c>POST /cluster/down</c>. The JSON
/// shapes are the contract the <c>fabric</c> console reads (see docs/configuration-node.md).
/// </summary>
public sealed class ClusterRoutes : IManagementRoutes
{
    public void Map(IEndpointRouteBuilder routes)
    {
        routes.MapGet("/cluster/members", (ActorSystem system) => Results.Json(Members(Cluster.Get(system)), ManagementResults.Json));
        routes.MapPost("/cluster/leave", (HttpContext http, ActorSystem system) => ChangeAsync(http, system, "leave")).RequireManagementToken();
        routes.MapPost("/cluster/down", (HttpContext http, ActorSystem system) => ChangeAsync(http, system, "down")).RequireManagementToken();
    }

    /// <summary>The members view of <paramref name="cluster"/>.</summary>
    public static MembersResponse Members(Cluster cluster)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        var state = cluster.State;
        var aged = state.Members
            .Where(m => m.Status is MemberStatus.Up or MemberStatus.Leaving or MemberStatus.Exiting)
            .ToList();
        aged.Sort((a, b) => a.IsOlderThan(b) ? -1 : b.IsOlderThan(a) ? 1 : 0);
        var members = state.Members
            .Select(m => new MemberJson(
                m.Address.ToString(),
                m.Status.ToString(),
                m.Roles.OrderBy(r => r, StringComparer.Ordinal).ToList(),
                aged.IndexOf(m) + 1))
            .ToList();
        return new MembersResponse(
            cluster.SelfAddress.ToString(),
            state.Leader?.ToString(),
            aged.Count > 0 ? aged[0].Address.ToString() : null,
            members,
            state.Unreachable.Select(m => m.Address.ToString()).OrderBy(a => a, StringComparer.Ordinal).ToList());
    }

    private static async Task<IResult> ChangeAsync(HttpContext http, ActorSystem system, string action)
    {
        string? text;
        try
        {
            using var body = await JsonDocument.ParseAsync(http.Request.Body, cancellationToken: http.RequestAborted).ConfigureAwait(false);
            text = body.RootElement.ValueKind == JsonValueKind.Object
                   && body.RootElement.TryGetProperty("address", out var value)
                   && value.ValueKind == JsonValueKind.String
                ? value.GetString()
                : null;
        }
        catch (JsonException)
        {
            text = null;
        }

        if (string.IsNullOrWhiteSpace(text))
        {
            return ManagementResults.Error(StatusCodes.Status400BadRequest, "request body must be {\"address\":\"akka.tcp://fabric@host:port\"}");
        }

        Address address;
        try
        {
            address = Address.Parse(text);
        }
        catch (Exception e) when (e is UriFormatException or ArgumentException or FormatException)
        {
            return ManagementResults.Error(StatusCodes.Status400BadRequest, $"not an Akka address: {text}");
        }

        var cluster = Cluster.Get(system);
        if (!cluster.State.Members.Any(m => m.Address.Equals(address)))
        {
            return ManagementResults.Error(StatusCodes.Status404NotFound, $"not a member: {address}");
        }

        if (action == "leave")
        {
            cluster.Leave(address);
        }
        else
        {
            cluster.Down(address);
        }

        return Results.Json(new ChangeResponse(address.ToString(), action), ManagementResults.Json);
    }

    /// <summary><c>GET /cluster/members</c>.</summary>
    public sealed record MembersResponse(string Self, string? Leader, string? Oldest, IReadOnlyList<MemberJson> Members, IReadOnlyList<string> Unreachable);

    /// <summary>One member; <c>upNumber</c> is its age rank among Up members (1 = oldest), 0 before it is Up.</summary>
    public sealed record MemberJson(string Address, string Status, IReadOnlyList<string> Roles, int UpNumber);

    /// <summary>Answer of <c>POST /cluster/leave</c> and <c>/cluster/down</c>.</summary>
    public sealed record ChangeResponse(string Address, string Action);
}
