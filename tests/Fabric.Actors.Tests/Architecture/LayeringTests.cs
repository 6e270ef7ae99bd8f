using Fabric.Actors.DataPlane;
using Xunit;
using Xunit.Abstractions;

namespace Fabric.Actors.Tests.Architecture;

/// <summary>
/// The data plane's layers, by namespace, as docs/architecture.md draws them:
/// Fabric.Protocols ← DataPlane ← Capture, Decap, Sinks ← Pipelines ← the rest. A layer uses only the layers
/// below it (the three stage namespaces not each other), nothing below Pipelines knows Pipelines, and there is
/// no namespace cycle among them. Read from the compiled Fabric.Actors assembly, method bodies included
/// (<see cref="NamespaceGraph"/>); other assemblies (Fabric.Protocols, Akka, SharpPcap) are not edges.
/// </summary>
public sealed class LayeringTests(ITestOutputHelper output)
{
    private const string Root = "Fabric.Actors";
    private const string Native = Root + ".Native";
    private const string Metrics = Root + ".Metrics";
    private const string DataPlane = Root + ".DataPlane";
    private const string Capture = Root + ".Capture";
    private const string Decap = Root + ".Decap";
    private const string Sinks = Root + ".Sinks";
    private const string Pipelines = Root + ".Pipelines";
    private const string Hosting = Root + ".Hosting";

    /// <summary>The foundations every layer may use: P/Invoke declarations, the metrics writer, and
    /// <see cref="IFabricMessage"/> (the root namespace: the marker that binds the serializer). The configuration
    /// reader is the Fabric.Configuration assembly, below this one, so not a namespace of this graph.</summary>
    private static readonly string[] Foundations = [Root, Native, Metrics];

    private static readonly string[] DataPlaneLayers = [.. Foundations, DataPlane, Capture, Decap, Sinks, Pipelines];

    private static readonly Lazy<NamespaceGraph> Graph = new(() => NamespaceGraph.Of(typeof(PacketBatch).Assembly));

    /// <summary>What each namespace of the data plane may use inside Fabric.Actors (besides itself).</summary>
    public static TheoryData<string, string[]> Allowed => new()
    {
        { Root, [] },
        { Native, [] },
        { Metrics, [] },
        { DataPlane, Foundations },
        { Capture, [.. Foundations, DataPlane] },
        { Decap, [.. Foundations, DataPlane] },
        { Sinks, [.. Foundations, DataPlane] },
        // Hosting: the node's feature contract (IFabricFeature, FabricNodeContext) that PipelinesFeature implements.
        { Pipelines, [.. Foundations, DataPlane, Capture, Decap, Sinks, Hosting] },
    };

    [Theory]
    [MemberData(nameof(Allowed))]
    public void A_data_plane_namespace_uses_only_the_layers_below_it(string ns, string[] allowed)
    {
        var graph = Graph.Value;
        Assert.Contains(ns, graph.Namespaces);
        output.WriteLine($"{ns} uses {string.Join(", ", graph.Uses(ns))}");
        var forbidden = graph.Uses(ns).Where(used => !allowed.Contains(used)).ToList();
        Assert.True(forbidden.Count == 0,
            $"{ns} must not use {string.Join(", ", forbidden)}: {string.Join(" | ", forbidden.Select(f => graph.Why(ns, f)))}");
    }

    [Fact]
    public void No_namespace_cycle_among_the_data_plane_layers()
    {
        var cycles = Graph.Value.Cycles(DataPlaneLayers);
        Assert.True(cycles.Count == 0, "namespace cycles: " + string.Join(" | ", cycles.Select(c => string.Join(" <-> ", c))));
    }

    /// <summary>Anywhere in Fabric.Actors (the data plane, Hosting, Mirrors and its backends, Persistence, …):
    /// no two namespaces use each other, directly or through others.</summary>
    [Fact]
    public void No_namespace_cycle_anywhere_in_the_assembly()
    {
        var graph = Graph.Value;
        foreach (var ns in graph.Namespaces.Order(StringComparer.Ordinal))
        {
            output.WriteLine($"{ns} uses {string.Join(", ", graph.Uses(ns))}");
        }

        var cycles = graph.Cycles();
        Assert.True(cycles.Count == 0, "namespace cycles: " + string.Join(" | ", cycles.Select(c =>
            string.Join(" <-> ", c) + " (" + string.Join("; ", c.SelectMany(from => c.Where(to => to != from && graph.Uses(from).Contains(to)).Select(to => $"{from} -> {to}: {graph.Why(from, to)}"))) + ")")));
    }

    /// <summary>The cycle check finds a cycle when there is one: the test assembly's own namespaces form one on
    /// purpose (<see cref="CycleFixture.A.UsesB"/> and <see cref="CycleFixture.B.UsesA"/>).</summary>
    [Fact]
    public void The_cycle_check_finds_a_cycle()
    {
        var graph = NamespaceGraph.Of(typeof(CycleFixture.A.UsesB).Assembly);
        Assert.Contains(graph.Cycles(), c => c.Contains(typeof(CycleFixture.A.UsesB).Namespace!) && c.Contains(typeof(CycleFixture.B.UsesA).Namespace!));
    }

    /// <summary>The graph sees uses that only happen inside method bodies, and it finds cycles: a reader that saw
    /// nothing would let every layering test pass.</summary>
    [Fact]
    public void The_graph_sees_uses_in_signatures_and_in_method_bodies()
    {
        var graph = Graph.Value;

        // A property type: PipelineRuntime.Pool is a PacketBatchPool.
        Assert.Contains("PipelineRuntime -> PacketBatchPool", graph.TypeUses(Pipelines, DataPlane));

        // Only inside method bodies: PipelineActor calls DecapActor.Props, PipelineSettingsReader calls
        // CpuAffinity.Exists, CpuAffinity calls Libc.gettid, BpfFilter calls LibPcap.pcap_compile.
        Assert.Contains("PipelineActor -> DecapActor", graph.TypeUses(Pipelines, Decap));
        Assert.Contains("PipelineSettingsReader -> CpuAffinity", graph.TypeUses(Pipelines, DataPlane));
        Assert.Contains("CpuAffinity -> Libc", graph.TypeUses(DataPlane, Native));
        Assert.Contains("BpfFilter -> LibPcap", graph.TypeUses(DataPlane, Native));

        // Nothing uses the data plane from below; the reverse edges exist.
        Assert.Empty(graph.TypeUses(DataPlane, Pipelines));
        Assert.NotEmpty(graph.TypeUses(Pipelines, Sinks));
    }
}
