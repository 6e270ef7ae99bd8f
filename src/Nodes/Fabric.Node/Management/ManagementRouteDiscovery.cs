using System.Reflection;
using Microsoft.AspNetCore.Routing;

namespace Fabric.Node.Management;

/// <summary>Finds and maps every <see cref="IManagementRoutes"/> in fabric-node.</summary>
public static class ManagementRouteDiscovery
{
    /// <summary>The route sets in <paramref name="assembly"/> (default: fabric-node), ordered by type name.</summary>
    public static IReadOnlyList<IManagementRoutes> Discover(Assembly? assembly = null) =>
        (assembly ?? typeof(IManagementRoutes).Assembly).GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false }
                        && typeof(IManagementRoutes).IsAssignableFrom(t)
                        && t.GetConstructor(Type.EmptyTypes) is not null)
            .OrderBy(t => t.FullName, StringComparer.Ordinal)
            .Select(t => (IManagementRoutes)Activator.CreateInstance(t)!)
            .ToList();

    /// <summary>Maps every discovered route set.</summary>
    public static void MapAll(IEndpointRouteBuilder routes)
    {
        foreach (var set in Discover())
        {
            set.Map(routes);
        }
    }
}
