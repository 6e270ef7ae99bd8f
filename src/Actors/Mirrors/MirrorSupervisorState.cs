using System.Collections.Immutable;

namespace Fabric.Actors.Mirrors;

/// <summary>
/// What the supervisor's journal events add up to: the sessions, each site's assignment version,
/// repair counts, the recent history per session, the last settled status per session and the
/// ids of the most recently journaled repairs. Built by <see cref="MirrorJournal"/> from the
/// journal (snapshot + events) and kept by the supervisor's <see cref="JournalOutbox"/> twice: as
/// confirmed by the journal, and with the events still waiting for it. Not thread-safe; owned by one actor.
/// </summary>
internal sealed class MirrorSupervisorState
{
    /// <summary>
    /// Journaled repair ids remembered to recognise repeats (agents repeat their last 20 repairs in
    /// every report); kept in the snapshot so a recovered supervisor recognises them too.
    /// </summary>
    internal const int KnownRepairIds = 4096;

    private readonly int _historyPerSession;
    private readonly HashSet<Guid> _knownRepairs = [];
    private readonly Queue<Guid> _knownRepairOrder = new();

    public MirrorSupervisorState(int historyPerSession)
    {
        _historyPerSession = historyPerSession;
    }

    public Dictionary<string, MirrorSessionSpec> Sessions { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, long> SiteVersions { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, long> RepairCounts { get; } = new(StringComparer.Ordinal);

    public Dictionary<string, LinkedList<MirrorHistoryEntry>> History { get; } = new(StringComparer.Ordinal);

    /// <summary>The last settled status journaled per session.</summary>
    public Dictionary<string, MirrorSessionStatus> Observed { get; } = new(StringComparer.Ordinal);

    /// <summary>Whether a repair with this id was journaled (or is waiting to be).</summary>
    public bool Knows(Guid repairId) => _knownRepairs.Contains(repairId);

    /// <summary>The assignment version of a site (at least 1).</summary>
    public long SiteVersion(string site) => Math.Max(1, SiteVersions.GetValueOrDefault(site));

    /// <summary>
    /// Applies one event. <paramref name="sequenceNr"/> is the event's journal sequence number
    /// (site versions of definitions and removals never fall below it); 0 for an event that is not
    /// journaled yet (its versions are not handed out).
    /// </summary>
    public void Apply(object e, long sequenceNr)
    {
        switch (e)
        {
            case MirrorSessionDefined d:
                var existed = Sessions.TryGetValue(d.Spec.Name, out var old);
                Sessions[d.Spec.Name] = d.Spec;
                BumpSite(d.Spec.Site, sequenceNr);
                if (existed && old!.Site != d.Spec.Site)
                {
                    BumpSite(old.Site, sequenceNr);
                }

                AddHistory(new MirrorHistoryEntry(d.Spec.Name, d.At, "defined", $"{(existed ? "changed" : "defined")} ({d.Origin}): {MirrorSupervisor.Describe(d.Spec)}", null));
                break;
            case MirrorSessionRemoved r:
                if (Sessions.Remove(r.Name, out var removed))
                {
                    BumpSite(removed.Site, sequenceNr);
                }

                Observed.Remove(r.Name);
                AddHistory(new MirrorHistoryEntry(r.Name, r.At, "removed", $"removed ({r.Origin})", null));
                break;
            case MirrorRepairLogged l:
                Remember(l.Repair.Id);
                RepairCounts[l.Repair.Session] = RepairCounts.GetValueOrDefault(l.Repair.Session) + 1;
                var text = l.Repair.Error is null
                    ? $"{l.Repair.Trigger} repair in {l.Repair.Duration.TotalMilliseconds:0.0} ms: {l.Repair.Missing}"
                    : $"{l.Repair.Trigger} repair failed after {l.Repair.Duration.TotalMilliseconds:0.0} ms: {l.Repair.Error} (was: {l.Repair.Missing})";
                AddHistory(new MirrorHistoryEntry(l.Repair.Session, l.Repair.DetectedAt, "repair", text, l.Repair));
                break;
            case MirrorSessionObserved o:
                Observed[o.Status.Name] = o.Status;
                AddHistory(new MirrorHistoryEntry(o.Status.Name, o.Status.Since, "observed", o.Status.Describe(), null));
                break;
        }
    }

    public MirrorSupervisorSnapshot ToSnapshot() => new(
        [.. Sessions.Values],
        SiteVersions.ToImmutableDictionary(StringComparer.Ordinal),
        RepairCounts.ToImmutableDictionary(StringComparer.Ordinal),
        [.. History.Values.SelectMany(h => h)],
        [.. _knownRepairOrder],
        [.. Observed.Values]);

    /// <summary>A state equal to <paramref name="snapshot"/> (empty when null).</summary>
    public static MirrorSupervisorState From(MirrorSupervisorSnapshot? snapshot, int historyPerSession)
    {
        var state = new MirrorSupervisorState(historyPerSession);
        if (snapshot is null)
        {
            return state;
        }

        foreach (var s in snapshot.Sessions)
        {
            state.Sessions[s.Name] = s;
        }

        foreach (var (k, v) in snapshot.SiteVersions)
        {
            state.SiteVersions[k] = v;
        }

        foreach (var (k, v) in snapshot.RepairCounts)
        {
            state.RepairCounts[k] = v;
        }

        foreach (var entry in snapshot.History)
        {
            state.AddHistory(entry);
        }

        foreach (var id in snapshot.KnownRepairs.IsDefault ? [] : snapshot.KnownRepairs)
        {
            state.Remember(id);
        }

        foreach (var status in snapshot.Observed.IsDefault ? [] : snapshot.Observed)
        {
            state.Observed[status.Name] = status;
        }

        return state;
    }

    private void BumpSite(string site, long sequenceNr) => SiteVersions[site] = Math.Max(SiteVersions.GetValueOrDefault(site) + 1, sequenceNr + 1);

    private void AddHistory(MirrorHistoryEntry entry)
    {
        if (!History.TryGetValue(entry.Session, out var list))
        {
            list = new LinkedList<MirrorHistoryEntry>();
            History[entry.Session] = list;
        }

        list.AddLast(entry);
        while (list.Count > _historyPerSession)
        {
            list.RemoveFirst();
        }
    }

    private void Remember(Guid id)
    {
        if (!_knownRepairs.Add(id))
        {
            return;
        }

        _knownRepairOrder.Enqueue(id);
        while (_knownRepairOrder.Count > KnownRepairIds)
        {
            _knownRepairs.Remove(_knownRepairOrder.Dequeue());
        }
    }
}
