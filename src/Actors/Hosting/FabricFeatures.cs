using System.Reflection;

namespace Fabric.Actors.Hosting;

/// <summary>Finds the <see cref="IFabricFeature"/> implementations by reflection.</summary>
public static class FabricFeatures
{
    /// <summary>
    /// One instance of every public, non-abstract <see cref="IFabricFeature"/> with a parameterless
    /// constructor in <paramref name="assemblies"/> (default: Fabric.Actors and every loaded
    /// <c>Fabric.*</c> assembly), ordered by name.
    /// </summary>
    public static IReadOnlyList<IFabricFeature> Discover(IEnumerable<Assembly>? assemblies = null)
    {
        var sources = (assemblies ?? DefaultAssemblies()).Distinct();
        var features = new List<IFabricFeature>();
        foreach (var assembly in sources)
        {
            foreach (var type in assembly.GetExportedTypes())
            {
                if (type is { IsClass: true, IsAbstract: false, IsGenericTypeDefinition: false }
                    && typeof(IFabricFeature).IsAssignableFrom(type)
                    && type.GetConstructor(Type.EmptyTypes) is not null)
                {
                    features.Add((IFabricFeature)Activator.CreateInstance(type)!);
                }
            }
        }

        return features.OrderBy(f => f.Name, StringComparer.Ordinal).ToList();
    }

    private static IEnumerable<Assembly> DefaultAssemblies()
    {
        yield return typeof(IFabricFeature).Assembly;
        foreach (var assembly in AppDomain.CurrentDomain.GetAssemblies())
        {
            if (!assembly.IsDynamic && assembly.GetName().Name?.StartsWith("Fabric.", StringComparison.Ordinal) == true)
            {
                yield return assembly;
            }
        }
    }
}
