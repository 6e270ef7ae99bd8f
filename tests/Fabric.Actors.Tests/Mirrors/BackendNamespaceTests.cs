using Fabric.Actors.Mirrors;
using Fabric.Actors.Tests.Architecture;
using Xunit;

namespace Fabric.Actors.Tests.Mirrors;

/// <summary>
/// A backend's folder (<c>Fabric.Actors.Mirrors.&lt;Backend&gt;</c>) uses the Mirrors root and the
/// shared <c>Mirrors.Backends</c>, never another backend: what one backend needs of another goes
/// through the registry. Read from the compiled assembly by <see cref="NamespaceGraph"/> (base types,
/// interfaces, fields, properties, signatures, locals and every type, method and field the IL of
/// each body refers to, the compiler's nested types counted for their declaring type's namespace).
/// </summary>
public sealed class BackendNamespaceTests
{
    private const string Root = "Fabric.Actors.Mirrors";
    private const string Shared = "Fabric.Actors.Mirrors.Backends";

    private static readonly NamespaceGraph Graph = NamespaceGraph.Of(typeof(MirrorBackends).Assembly);

    [Fact]
    public void Backend_namespaces_use_only_the_mirrors_root_and_the_shared_backends_namespace()
    {
        var backends = MirrorBackends.All.Select(b => b.GetType().Namespace!).ToHashSet(StringComparer.Ordinal);
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

    [Fact]
    public void The_scan_sees_a_dependency_that_only_a_method_body_has()
    {
        // ProxmoxMirrorAgent.OnStart asks the registry for the ovs agent: only its IL names MirrorBackends.
        Assert.Contains("ProxmoxMirrorAgent -> MirrorBackends", Graph.TypeUses(Root + ".Proxmox", Root));
        Assert.DoesNotContain(Root + ".Ovs", Graph.Uses(Root + ".Proxmox"));
    }
}
