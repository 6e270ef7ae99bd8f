using System.Collections.Concurrent;
using Akka.Actor;
using Fabric.Actors.Metrics;

namespace Fabric.Actors.Persistence;

/// <summary>
/// Counts journal failures of this node's persistent actors (the mirror supervisor, the node
/// history) by actor and kind, for <c>/metrics</c> as <c>fabric_persistence_failures_total</c>:
/// <c>persist</c> (the journal write failed: the actor stops and its parent restarts it),
/// <c>rejected</c> (the journal refused the event) and <c>recovery</c> (replay failed).
/// </summary>
public sealed class PersistenceFailures : IExtension, IMetricsSource
{
    public const string Persist = "persist";
    public const string Rejected = "rejected";
    public const string Recovery = "recovery";

    private readonly ConcurrentDictionary<(string Actor, string Kind), long> _counts = new();

    /// <summary>The counters of <paramref name="system"/> (registered in its /metrics on first use).</summary>
    public static PersistenceFailures Get(ActorSystem system) =>
        system.WithExtension<PersistenceFailures, PersistenceFailuresProvider>();

    /// <summary>Counts one failure of <paramref name="kind"/> for the actor named <paramref name="actor"/>.</summary>
    public void Record(string actor, string kind) => _counts.AddOrUpdate((actor, kind), 1, (_, n) => n + 1);

    /// <summary>The failures counted so far for one actor and kind.</summary>
    public long Count(string actor, string kind) => _counts.GetValueOrDefault((actor, kind));

    public void Write(PrometheusTextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Family("fabric_persistence_failures_total", MetricType.Counter,
            "Journal failures of this node's persistent actors by actor and kind (persist, rejected, recovery).");
        foreach (var ((actor, kind), count) in _counts.OrderBy(e => e.Key.Actor, StringComparer.Ordinal).ThenBy(e => e.Key.Kind, StringComparer.Ordinal))
        {
            writer.Sample("fabric_persistence_failures_total", count, ("actor", actor), ("kind", kind));
        }
    }
}

public sealed class PersistenceFailuresProvider : ExtensionIdProvider<PersistenceFailures>
{
    public override PersistenceFailures CreateExtension(ExtendedActorSystem system)
    {
        var failures = new PersistenceFailures();
        FabricMetrics.Get(system).Register(failures);
        return failures;
    }
}
