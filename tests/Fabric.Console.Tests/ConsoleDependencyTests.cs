using System.Reflection;
using Fabric.Console;

namespace Fabric.Console.Tests;

/// <summary>
/// The console loads no actor system: from its own assembly through every assembly it references, transitively,
/// neither Fabric.Actors nor what only the node needs (Akka.Remote, Akka.Cluster, SharpPcap, the AWS SDK,
/// Npgsql) may appear. docs/architecture.md ("Layers").
/// </summary>
public sealed class ConsoleDependencyTests
{
    private static readonly string[] Forbidden = ["Fabric.Actors", "Akka.Remote", "Akka.Cluster", "SharpPcap", "AWSSDK", "Npgsql", "PacketDotNet"];

    [Fact]
    public void The_console_references_no_actor_system_assembly_directly_or_transitively()
    {
        var closure = Closure(typeof(ConsoleApp).Assembly);
        Assert.Contains("Fabric.Configuration", closure.Keys); // the walk reached the console's own references
        Assert.Contains("Fabric.Protocols", closure.Keys);
        var bad = Offending(closure, Forbidden);
        Assert.True(bad.Count == 0, "the console loads: " + string.Join(", ", bad));
    }

    [Fact]
    public void The_walk_finds_a_forbidden_assembly_where_there_is_one()
    {
        // Fabric.Configuration uses the core Akka assembly (its HOCON); with "Akka" forbidden the same walk and
        // match must name it, and Akka.Remote must not be mistaken for Akka.
        var closure = Closure(typeof(Fabric.Configuration.FabricConfig).Assembly);
        Assert.Equal(["Akka (via Fabric.Configuration)"], Offending(closure, ["Akka"]));
        Assert.Empty(Offending(closure, ["Akka.Remote"]));
    }

    private static List<string> Offending(Dictionary<string, string> closure, string[] forbidden) =>
        closure.Where(a => forbidden.Any(f => a.Key == f || a.Key.StartsWith(f + ".", StringComparison.Ordinal)))
            .Select(a => $"{a.Key} (via {a.Value})").Order(StringComparer.Ordinal).ToList();

    /// <summary>Every non-framework assembly reachable from <paramref name="root"/>, with the one that referenced it.</summary>
    private static Dictionary<string, string> Closure(Assembly root)
    {
        var seen = new Dictionary<string, string>(StringComparer.Ordinal) { [root.GetName().Name!] = "(root)" };
        var pending = new Queue<Assembly>([root]);
        while (pending.TryDequeue(out var assembly))
        {
            foreach (var reference in assembly.GetReferencedAssemblies())
            {
                var name = reference.Name!;
                if (IsFramework(name) || seen.ContainsKey(name))
                {
                    continue;
                }

                seen[name] = assembly.GetName().Name!;
                pending.Enqueue(Assembly.Load(reference));
            }
        }

        return seen;
    }

    private static bool IsFramework(string name) =>
        name is "mscorlib" or "netstandard" || name.StartsWith("System", StringComparison.Ordinal) || name.StartsWith("Microsoft.", StringComparison.Ordinal);
}
