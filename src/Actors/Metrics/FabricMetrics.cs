using System.Collections.Immutable;
using Akka.Actor;

namespace Fabric.Actors.Metrics;

/// <summary>Something that writes its own metric families to <c>/metrics</c>.</summary>
public interface IMetricsSource
{
    /// <summary>Writes the current values. Called on the HTTP request's thread: read published snapshots, never block.</summary>
    void Write(PrometheusTextWriter writer);
}

/// <summary>
/// The node's registry of <see cref="IMetricsSource"/>s, an ActorSystem extension:
/// <c>FabricMetrics.Get(system).Register(source)</c>. <c>/metrics</c> writes every registered source.
/// </summary>
public sealed class FabricMetrics : IExtension
{
    private ImmutableList<IMetricsSource> _sources = [];

    /// <summary>The registry of <paramref name="system"/>.</summary>
    public static FabricMetrics Get(ActorSystem system) =>
        system.WithExtension<FabricMetrics, FabricMetricsProvider>();

    /// <summary>Adds a source; the returned handle removes it again.</summary>
    public IDisposable Register(IMetricsSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        ImmutableInterlocked.Update(ref _sources, (list, s) => list.Add(s), source);
        return new Registration(this, source);
    }

    /// <summary>The registered sources, in registration order.</summary>
    public IReadOnlyList<IMetricsSource> Sources => _sources;

    /// <summary>Writes every source's families.</summary>
    public void WriteAll(PrometheusTextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        foreach (var source in _sources)
        {
            source.Write(writer);
        }
    }

    private void Remove(IMetricsSource source) =>
        ImmutableInterlocked.Update(ref _sources, (list, s) => list.Remove(s), source);

    private sealed class Registration(FabricMetrics owner, IMetricsSource source) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.Remove(source);
            }
        }
    }
}

/// <summary>Creates the <see cref="FabricMetrics"/> extension.</summary>
public sealed class FabricMetricsProvider : ExtensionIdProvider<FabricMetrics>
{
    public override FabricMetrics CreateExtension(ExtendedActorSystem system) => new();
}
