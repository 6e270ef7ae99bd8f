using Akka.Actor;
using Akka.Cluster;
using Fabric.Actors.Hosting;
using Fabric.Actors.Persistence;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Fabric.Node.Management;

/// <summary>
/// <c>/alive</c> (the process serves HTTP), <c>/ready</c> (200 only when this member is Up and
/// the node has finished starting: journal warmed, features started),
/// <c>GET /node</c> (this node: address, member status, whether it was removed from the cluster,
/// roles, persistence and its start history).
/// </summary>
public sealed class HealthRoutes : IManagementRoutes
{
    public void Map(IEndpointRouteBuilder routes)
    {
        routes.MapGet("/alive", () => Results.Json(new { status = "alive" }, ManagementResults.Json));
        routes.MapGet("/ready", (ActorSystem system, NodeReadiness readiness) =>
        {
            var status = Cluster.Get(system).SelfMember.Status;
            if (!readiness.Started)
            {
                return ManagementResults.Error(StatusCodes.Status503ServiceUnavailable, $"not ready: starting (this member is {status})");
            }

            return status == MemberStatus.Up
                ? Results.Json(new { status = "ready", member = status.ToString() }, ManagementResults.Json)
                : ManagementResults.Error(StatusCodes.Status503ServiceUnavailable, $"not ready: this member is {status}");
        });
        routes.MapGet("/node", async (ActorSystem system, FabricNodeSettings settings, HttpContext http) =>
        {
            var history = await system.ActorSelection("/user/" + NodeHistoryActor.Name)
                .Ask<NodeHistory>(GetNodeHistory.Instance, TimeSpan.FromSeconds(5), http.RequestAborted).ConfigureAwait(false);
            var cluster = Cluster.Get(system);
            return Results.Json(new NodeResponse(
                cluster.SelfAddress.ToString(),
                cluster.SelfMember.Status.ToString(),
                cluster.IsTerminated,
                settings.Roles.ToList(),
                settings.DataDirectory,
                settings.Persistence.ToString().ToLowerInvariant(),
                history.Starts,
                history.FirstStarted,
                history.LastStarted), ManagementResults.Json);
        });
    }

    /// <summary><c>GET /node</c>. <c>RemovedFromCluster</c>: this node was downed and runs on without the cluster (restart it to rejoin).</summary>
    public sealed record NodeResponse(
        string Address,
        string Status,
        bool RemovedFromCluster,
        IReadOnlyList<string> Roles,
        string DataDir,
        string Persistence,
        long Starts,
        DateTimeOffset? FirstStarted,
        DateTimeOffset? LastStarted);
}
