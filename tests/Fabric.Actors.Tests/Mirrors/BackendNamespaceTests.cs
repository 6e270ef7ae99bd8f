using Fabric.Actors.Mirrors;
using Fabric.Actors.Mirrors.Registry;
using Fabric.Actors.Tests.Architecture;
using Xunit;

namespace Fabric.Actors.Tests.Mirrors;

/// <summary>
/// Mirrors/&lt;Backend&gt; ← Mirrors.Registry, over the shared model: a backend's folder
/// (<c>Fabric.Actors.Mirrors.&lt;Backend&gt;</c>) uses the Mirrors root and the shared
/// <c>Mirrors.Backends</c>, never another backend and never the registry; the root and
/// <c>Mirrors.Backends</c> name no backend and not the registry (they get the backends as a
/// <see cref="MirrorBackendSet"/>); the registry names every backend. Read from the compiled assembly
/// by <see cref="NamespaceGraph"/> (base types, interfaces, fields, properties, signatures, locals and
/// every type, method and field the IL of each body refers to, the compiler's nested types counted
/// for their declaring type's namespace). LayeringTests.No_namespace_cycle_anywhere_in_the_assembly
/// checks the rest.
/// </summary>
public sealed class BackendNamespaceTests
{
    private const string Root = "Fabric.Actors.Mirrors";
    private const string Shared = Root + ".Backends";
    private const string Registry = Root + ".Registry";

    private static readonly NamespaceGraph Graph = NamespaceGraph.Of(typeof(MirrorBackends).Assembly);

    private static HashSet<string> BackendNamespaces() => MirrorBackends.All.Select(b => b.GetType().Namespace!).ToHashSet(StringComparer.Ordinal);

    [Fact]
    public void Backend_namespaces_use_only_the_mirrors_root_and_the_shared_backends_namespace()
    {
        var backends = BackendNamespaces();
        Assert.Equal(MirrorBackends.All.Length, backends.Count);

        var violations = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var backend in backends)
        {
            Assert.Contains(backend, Graph.Namespaces);
            foreach (var used in Graph.Uses(backend).Where(ns => ns.StartsWith(Root + ".", StringComparison.Ordinal) && ns != Shared))
            {
                violations.Add($"{backend} uses {used}: {Graph.Why(backend, used)}");
            }
        }

        Assert.True(violations.Count == 0, string.Join(Environment.NewLine, violations));
    }

    [Theory]
    [InlineData(Root)]
    [InlineData(Shared)]
    public void The_shared_model_names_no_backend_and_not_the_registry(string ns)
    {
        Assert.Contains(ns, Graph.Namespaces);
        var forbidden = Graph.Uses(ns).Where(used => used == Registry || BackendNamespaces().Contains(used)).ToList();
        Assert.True(forbidden.Count == 0, string.Join(Environment.NewLine, forbidden.Select(f => $"{ns} uses {f}: {Graph.Why(ns, f)}")));
    }

    [Fact]
    public void The_registry_uses_every_backend_and_nothing_in_the_assembly_uses_the_registry()
    {
        Assert.Superset(BackendNamespaces(), Graph.Uses(Registry).ToHashSet(StringComparer.Ordinal));
        Assert.DoesNotContain(Graph.Namespaces, ns => ns != Registry && Graph.Uses(ns).Contains(Registry));
    }

    [Fact]
    public void The_scan_sees_a_dependency_that_only_a_method_body_has()
    {
        // ProxmoxMirrorAgent.OnStart asks the backend set for the ovs agent: only its IL names MirrorBackendSet.
        Assert.Contains("ProxmoxMirrorAgent -> MirrorBackendSet", Graph.TypeUses(Root + ".Proxmox", Root));
        Assert.DoesNotContain(Root + ".Ovs", Graph.Uses(Root + ".Proxmox"));
    }
}
