using Akka.Actor;
using Fabric.Actors.Pipelines;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Fabric.Node.Management;

/// <summary>
/// <c>GET /pipelines</c>, <c>GET /pipelines/stats</c>, <c>GET /pipelines/{name}/stats</c>, <c>GET /pipelines/{name}/sources</c>,
/// <c>POST /pipelines/{name}/stop</c>, <c>POST /pipelines/{name}/start</c>: the pipelines of this node, answered
/// by its <see cref="PipelineManager"/> (<c>/user/pipelines</c>, present on nodes with role <c>capture</c>).
/// JSON shapes: <see cref="PipelineList"/>, <see cref="PipelineStatsReply"/>, <see cref="PipelineSourcesReply"/>, <see cref="PipelineCommandResult"/>
/// (see docs/pipelines.md).
/// </summary>
public sealed class PipelineRoutes : IManagementRoutes
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(10);

    public void Map(IEndpointRouteBuilder routes)
    {
        routes.MapGet("/pipelines", (ActorSystem system) => AskAsync<PipelineList>(system, ListPipelines.Instance, r => Results.Json(r, ManagementResults.Json)));
        routes.MapGet("/pipelines/stats", (ActorSystem system) => AskAsync<PipelineStatsReply>(system, new GetPipelineStats(null), Stats));
        routes.MapGet("/pipelines/{name}/stats", (string name, ActorSystem system) => AskAsync<PipelineStatsReply>(system, new GetPipelineStats(name), Stats));
        routes.MapGet("/pipelines/{name}/sources", (string name, ActorSystem system) => AskAsync<PipelineSourcesReply>(system, new GetPipelineSources(name), Sources));
        routes.MapPost("/pipelines/{name}/stop", (string name, ActorSystem system) => AskAsync<PipelineCommandResult>(system, new StopPipeline(name), Command)).RequireManagementToken();
        routes.MapPost("/pipelines/{name}/start", (string name, ActorSystem system) => AskAsync<PipelineCommandResult>(system, new StartPipeline(name), Command)).RequireManagementToken();
    }

    private static IResult Stats(PipelineStatsReply reply) =>
        reply.Error is null
            ? Results.Json(reply, ManagementResults.Json)
            : ManagementResults.Error(StatusCodes.Status404NotFound, reply.Error);

    private static IResult Sources(PipelineSourcesReply reply) =>
        reply.Error is null
            ? Results.Json(reply, ManagementResults.Json)
            : ManagementResults.Error(reply.Error.StartsWith("no pipeline", StringComparison.Ordinal) ? StatusCodes.Status404NotFound : StatusCodes.Status409Conflict, reply.Error);

    private static IResult Command(PipelineCommandResult result) =>
        result.Ok
            ? Results.Json(result, ManagementResults.Json)
            : ManagementResults.Error(result.Message.StartsWith("no pipeline", StringComparison.Ordinal) ? StatusCodes.Status404NotFound : StatusCodes.Status409Conflict, result.Message);

    private static async Task<IResult> AskAsync<T>(ActorSystem system, object request, Func<T, IResult> answer)
    {
        IActorRef manager;
        try
        {
            manager = await system.ActorSelection("/user/" + PipelineManager.Name).ResolveOne(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }
        catch (ActorNotFoundException)
        {
            return ManagementResults.Error(StatusCodes.Status404NotFound, $"this node runs no pipelines (it needs the role {PipelinesFeature.Role})");
        }

        try
        {
            var reply = await manager.Ask<T>(request, AskTimeout).ConfigureAwait(false);
            return answer(reply);
        }
        catch (AskTimeoutException)
        {
            return ManagementResults.Error(StatusCodes.Status504GatewayTimeout, $"the pipeline manager did not answer within {AskTimeout.TotalSeconds:0} s");
        }
    }
}
