using System.Collections.Immutable;
using Akka.Actor;
using Akka.Cluster;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Newtonsoft.Json;
using static Akka.Management.Cluster.Bootstrap.ContactPoint.HttpBootstrapJsonProtocol;

namespace Fabric.Node.Management;

/// <summary>
/// <c>GET /bootstrap/seed-nodes</c>: Akka.Management's Cluster Bootstrap protocol, answered with
/// its own JSON types and serializer so that other nodes' ClusterBootstrap reads it. Lists the
/// reachable Joining/Up/WeaklyUp members (none before this node joined); 503 while this node is leaving or down.
/// </summary>
public sealed class BootstrapRoutes : IManagementRoutes
{
    private const int MaxSeedNodesToExpose = 5;

    public void Map(IEndpointRouteBuilder routes)
    {
        routes.MapGet("/bootstrap/seed-nodes", (ActorSystem system) =>
        {
            var cluster = Cluster.Get(system);
            // Before it joins, a node's own member reads as Removed: that is "no cluster yet", not an error.
            if (cluster.SelfMember.Status is MemberStatus.Down or MemberStatus.Exiting or MemberStatus.Leaving)
            {
                return Results.StatusCode(StatusCodes.Status503ServiceUnavailable);
            }

            var state = cluster.State;
            var members = state.Members
                .Where(m => !state.Unreachable.Contains(m))
                .Where(m => m.Status is MemberStatus.Up or MemberStatus.WeaklyUp or MemberStatus.Joining)
                .Take(MaxSeedNodesToExpose)
                .Select(m => new ClusterMember(m.UniqueAddress.Address, m.UniqueAddress.Uid, m.Status, m.Roles))
                .ToImmutableList();
            var json = JsonConvert.SerializeObject(new SeedNodes(cluster.SelfMember.UniqueAddress.Address, members));
            return Results.Content(json, "application/json");
        });
    }
}
