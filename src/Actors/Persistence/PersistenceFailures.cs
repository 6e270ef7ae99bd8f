using System.Collections.Concurrent;
using Akka.Actor;
using Fabric.Actors.Metrics;

namespace Fabric.Actors.Persistence;

/// <summary>
/// Counts journal failures of this node's persistent actors (the mirror supervisor, the node
/// history) by actor and kind, for <c>/metrics</c> as <c>fabric_persistence_failures_total</c>:
/// <c>persist</c> (the journal write failed: the actor stops and its parent restarts it),
/// <c>rejected</c> (the journal refused the event), <c>recovery</c> (replay failed) and
/// <c>snapshot</c> (saving a snapshot failed).
/// </summary>
public sealed class PersistenceFailures : IExtension, IMetricsSource
{
    public const string Persist = "persist";
    public const string Rejected = "rejected";
    public const string Recovery = "recovery";
    public const string Snapshot = "snapshot";

    private readonly ConcurrentDictionary<(string Actor, string Kind), long> _counts = new();
    private readonly ConcurrentDictionary<string, (bool Available, long Pending)> _journals = new(StringComparer.Ordinal);

    /// <summary>The counters of <paramref name="system"/> (registered in its /metrics on first use).</summary>
    public static PersistenceFailures Get(ActorSystem system) =>
        system.WithExtension<PersistenceFailures, PersistenceFailuresProvider>();

    /// <summary>Counts one failure of <paramref name="kind"/> for the actor named <paramref name="actor"/>.</summary>
    public void Record(string actor, string kind) => _counts.AddOrUpdate((actor, kind), 1, (_, n) => n + 1);

    /// <summary>The failures counted so far for one actor and kind.</summary>
    public long Count(string actor, string kind) => _counts.GetValueOrDefault((actor, kind));

    /// <summary>
    /// For an actor that keeps events in memory while its journal is unavailable (the mirror
    /// supervisor): whether the journal is available and how many events wait for it
    /// (<c>fabric_persistence_journal_available</c>, <c>fabric_persistence_pending_events</c>).
    /// </summary>
    public void SetJournal(string actor, bool available, long pending) => _journals[actor] = (available, pending);

    public void Write(PrometheusTextWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.Family("fabric_persistence_failures_total", MetricType.Counter,
            "Journal failures of this node's persistent actors by actor and kind (persist, rejected, recovery, snapshot).");
        foreach (var ((actor, kind), count) in _counts.OrderBy(e => e.Key.Actor, StringComparer.Ordinal).ThenBy(e => e.Key.Kind, StringComparer.Ordinal))
        {
            writer.Sample("fabric_persistence_failures_total", count, ("actor", actor), ("kind", kind));
        }

        writer.Family("fabric_persistence_journal_available", MetricType.Gauge,
            "1 while the actor's journal takes its events, 0 while it is unavailable (the events wait in memory).");
        writer.Family("fabric_persistence_pending_events", MetricType.Gauge,
            "Events kept in memory until the actor's journal takes them.");
        foreach (var (actor, (available, pending)) in _journals.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            writer.Sample("fabric_persistence_journal_available", available ? 1 : 0, ("actor", actor));
            writer.Sample("fabric_persistence_pending_events", pending, ("actor", actor));
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
