using Microsoft.AspNetCore.Routing;

namespace Fabric.Node.Management;

/// <summary>
/// A set of management HTTP routes. Every public, non-abstract implementation with a
/// parameterless constructor in the fabric-node assembly is found by reflection and mapped at
/// start, so a feature adds a route file (e.g. <c>Management/PipelineRoutes.cs</c>) without
/// editing Program.cs. Handlers take what they need from DI: <c>ActorSystem</c>,
/// <c>FabricStartupInfo</c>, <c>ManagementToken</c>.
/// <code>
/// public sealed class PipelineRoutes : IManagementRoutes
/// {
///     public void Map(IEndpointRouteBuilder routes)
///     {
///         routes.MapGet("/pipelines", (ActorSystem system) => ...);
///         routes.MapPost("/pipelines/{name}/stop", (string name, ActorSystem system) => ...).RequireManagementToken();
///     }
/// }
/// </code>
/// Errors are answered with <see cref="ManagementResults.Error"/>: <c>{"error":"one line"}</c>.
/// </summary>
public interface IManagementRoutes
{
    /// <summary>Maps this set's routes.</summary>
    void Map(IEndpointRouteBuilder routes);
}
