using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using Akka.Persistence;
using Fabric.Actors.Persistence;

namespace Fabric.Actors.Mirrors;

/// <summary>
/// The mirror supervisor: a cluster singleton on role <c>supervisor</c> (actor
/// <c>/user/mirror-supervisor</c>, reached through <c>/user/mirror-supervisor-proxy</c>).
/// Event-sourced: sessions defined, changed and removed, and an audit trail of what the agents
/// observed and repaired. Hands each site's sessions to that site's agent (and again whenever an
/// agent reports another assignment version, e.g. after either of them moved), merges
/// <c>fabric.mirrors</c> from HOCON into the persisted state at start, and answers the console.
/// Commands are idempotent: the singleton proxy re-delivers buffered commands after a failover.
/// </summary>
public sealed class MirrorSupervisor : ReceivePersistentActor, IWithTimers
{
    /// <summary>Name of the singleton manager under <c>/user</c>.</summary>
    public const string Name = "mirror-supervisor";

    /// <summary>Name of the proxy every node runs under <c>/user</c>.</summary>
    public const string ProxyName = "mirror-supervisor-proxy";

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly MirrorSettings _settings;
    private readonly Func<IUntypedActorContext, string, IActorRef> _agentFor;
    private readonly Dictionary<string, IActorRef> _agents = new(StringComparer.Ordinal);
    private readonly Dictionary<string, MirrorSessionSpec> _sessions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _siteVersions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _repairCounts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, LinkedList<MirrorHistoryEntry>> _history = new(StringComparer.Ordinal);
    private readonly Dictionary<string, MirrorSessionStatus> _live = new(StringComparer.Ordinal);
    private readonly Dictionary<string, MirrorSessionStatus> _observed = new(StringComparer.Ordinal);
    private readonly HashSet<Guid> _knownRepairs = [];
    private readonly Queue<Guid> _knownRepairOrder = new();
    private readonly Dictionary<string, DateTimeOffset> _lastReport = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string?> _siteProblem = new(StringComparer.Ordinal);
    private long _eventsSinceSnapshot;

    /// <summary>
    /// Journaled repair ids remembered to recognise repeats (agents repeat their last 20 repairs in
    /// every report); kept in the snapshot so a recovered supervisor recognises them too.
    /// </summary>
    internal const int KnownRepairIds = 4096;

    public MirrorSupervisor(MirrorSettings settings, Func<IUntypedActorContext, string, IActorRef> agentFor, string persistenceId)
    {
        _settings = settings;
        _agentFor = agentFor;
        PersistenceId = persistenceId;
        JournalPluginId = FabricPersistence.JournalPluginId;
        SnapshotPluginId = FabricPersistence.SnapshotPluginId;

        Recover<SnapshotOffer>(offer =>
        {
            if (offer.Snapshot is MirrorSupervisorSnapshot snapshot)
            {
                Restore(snapshot);
            }
        });
        Recover<MirrorSessionDefined>(e => Apply(e));
        Recover<MirrorSessionRemoved>(e => Apply(e));
        Recover<MirrorRepairLogged>(e => Apply(e));
        Recover<MirrorSessionObserved>(e => Apply(e));
        Recover<RecoveryCompleted>(_ => Self.Tell(MergeConfiguration.Instance));

        Command<MergeConfiguration>(_ => HandleMergeConfiguration());
        Command<DefineMirrorSession>(HandleDefine);
        Command<RemoveMirrorSession>(HandleRemove);
        Command<ListMirrorSessions>(_ => Sender.Tell(new MirrorSessionList([.. _sessions.Values.OrderBy(s => s.Name, StringComparer.Ordinal).Select(View)])));
        Command<GetMirrorSession>(m => Sender.Tell(new MirrorSessionDetail(m.Name, _sessions.TryGetValue(m.Name, out var s) ? View(s) : null)));
        Command<GetMirrorHistory>(HandleHistory);
        Command<RepairMirrorSession>(HandleRepair);
        Command<SessionStatusChanged>(HandleStatus);
        Command<RepairRecorded>(m => LogRepair(m.Repair));
        Command<AgentReport>(HandleReport);
        Command<CheckSites>(_ => HandleCheckSites());
        // The journal is the full audit trail: events are kept after a snapshot (recovery starts at the snapshot).
        Command<SaveSnapshotSuccess>(s => DeleteSnapshots(new SnapshotSelectionCriteria(s.Metadata.SequenceNr - 1)));
        Command<SaveSnapshotFailure>(f => _log.Warning(f.Cause, "Mirror supervisor: snapshot failed"));
        Command<DeleteSnapshotsSuccess>(_ => { });
        Command<DeleteSnapshotsFailure>(f => _log.Warning(f.Cause, "Mirror supervisor: deleting older snapshots failed"));
    }

    public override string PersistenceId { get; }

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>Props; <paramref name="agentFor"/> gives the actor that reaches a site's agent (a singleton proxy in a cluster).</summary>
    public static Props Props(MirrorSettings settings, Func<IUntypedActorContext, string, IActorRef> agentFor, string persistenceId = "fabric-mirror-supervisor") =>
        Akka.Actor.Props.Create(() => new MirrorSupervisor(settings, agentFor, persistenceId));

    protected override void PreStart()
    {
        Timers.StartPeriodicTimer("check-sites", CheckSites.Instance, _settings.ReportInterval);
        base.PreStart();
    }

    protected override void OnPersistFailure(Exception cause, object @event, long sequenceNr)
    {
        PersistenceFailures.Get(Context.System).Record(Name, PersistenceFailures.Persist);
        base.OnPersistFailure(cause, @event, sequenceNr);
    }

    protected override void OnPersistRejected(Exception cause, object @event, long sequenceNr)
    {
        PersistenceFailures.Get(Context.System).Record(Name, PersistenceFailures.Rejected);
        base.OnPersistRejected(cause, @event, sequenceNr);
    }

    protected override void OnRecoveryFailure(Exception reason, object? message = null)
    {
        PersistenceFailures.Get(Context.System).Record(Name, PersistenceFailures.Recovery);
        base.OnRecoveryFailure(reason, message);
    }

    // ---- state ----

    private void Apply(object e)
    {
        switch (e)
        {
            case MirrorSessionDefined d:
                var existed = _sessions.TryGetValue(d.Spec.Name, out var old);
                _sessions[d.Spec.Name] = d.Spec;
                BumpSite(d.Spec.Site);
                if (existed && old!.Site != d.Spec.Site)
                {
                    BumpSite(old.Site);
                }

                AddHistory(new MirrorHistoryEntry(d.Spec.Name, d.At, "defined", $"{(existed ? "changed" : "defined")} ({d.Origin}): {Describe(d.Spec)}", null));
                break;
            case MirrorSessionRemoved r:
                if (_sessions.Remove(r.Name, out var removed))
                {
                    BumpSite(removed.Site);
                }

                _live.Remove(r.Name);
                _observed.Remove(r.Name);
                AddHistory(new MirrorHistoryEntry(r.Name, r.At, "removed", $"removed ({r.Origin})", null));
                break;
            case MirrorRepairLogged l:
                Remember(l.Repair.Id);
                _repairCounts[l.Repair.Session] = _repairCounts.GetValueOrDefault(l.Repair.Session) + 1;
                var text = l.Repair.Error is null
                    ? $"{l.Repair.Trigger} repair in {l.Repair.Duration.TotalMilliseconds:0.0} ms: {l.Repair.Missing}"
                    : $"{l.Repair.Trigger} repair failed after {l.Repair.Duration.TotalMilliseconds:0.0} ms: {l.Repair.Error} (was: {l.Repair.Missing})";
                AddHistory(new MirrorHistoryEntry(l.Repair.Session, l.Repair.DetectedAt, "repair", text, l.Repair));
                break;
            case MirrorSessionObserved o:
                _observed[o.Status.Name] = o.Status;
                AddHistory(new MirrorHistoryEntry(o.Status.Name, o.Status.Since, "observed", o.Status.Describe(), null));
                break;
        }
    }

    private void BumpSite(string site) => _siteVersions[site] = Math.Max(_siteVersions.GetValueOrDefault(site) + 1, LastSequenceNr + 1);

    private void AddHistory(MirrorHistoryEntry entry)
    {
        if (!_history.TryGetValue(entry.Session, out var list))
        {
            list = new LinkedList<MirrorHistoryEntry>();
            _history[entry.Session] = list;
        }

        list.AddLast(entry);
        while (list.Count > _settings.HistoryPerSession)
        {
            list.RemoveFirst();
        }
    }

    private void Restore(MirrorSupervisorSnapshot snapshot)
    {
        _sessions.Clear();
        foreach (var s in snapshot.Sessions)
        {
            _sessions[s.Name] = s;
        }

        foreach (var (k, v) in snapshot.SiteVersions)
        {
            _siteVersions[k] = v;
        }

        foreach (var (k, v) in snapshot.RepairCounts)
        {
            _repairCounts[k] = v;
        }

        _history.Clear();
        foreach (var entry in snapshot.History)
        {
            AddHistory(entry);
        }

        _knownRepairs.Clear();
        _knownRepairOrder.Clear();
        foreach (var id in snapshot.KnownRepairs)
        {
            Remember(id);
        }
    }

    /// <summary>Remembers a journaled repair's id (the most recent <see cref="KnownRepairIds"/> are kept).</summary>
    private bool Remember(Guid id)
    {
        if (!_knownRepairs.Add(id))
        {
            return false;
        }

        _knownRepairOrder.Enqueue(id);
        while (_knownRepairOrder.Count > KnownRepairIds)
        {
            _knownRepairs.Remove(_knownRepairOrder.Dequeue());
        }

        return true;
    }

    private void PersistEvent(object e, Action? after = null) =>
        Persist(e, persisted =>
        {
            Apply(persisted);
            after?.Invoke();
            if (++_eventsSinceSnapshot >= _settings.SnapshotEvery)
            {
                _eventsSinceSnapshot = 0;
                SaveSnapshot(new MirrorSupervisorSnapshot(
                    [.. _sessions.Values],
                    _siteVersions.ToImmutableDictionary(StringComparer.Ordinal),
                    _repairCounts.ToImmutableDictionary(StringComparer.Ordinal),
                    [.. _history.Values.SelectMany(h => h)],
                    [.. _knownRepairOrder]));
            }
        });

    // ---- commands ----

    private void HandleMergeConfiguration()
    {
        var declared = _settings.Mirrors.Where(m => !_sessions.TryGetValue(m.Name, out var existing) || existing != m).ToList();
        if (declared.Count > 0)
        {
            _log.Info("Mirror supervisor: merging {0} session(s) from fabric.mirrors", declared.Count);
        }

        PersistAll(declared.Select(d => new MirrorSessionDefined(d, "config", DateTimeOffset.UtcNow)), e => Apply(e));
        DeferAsync(declared, _ =>
        {
            foreach (var site in _settings.Sites)
            {
                Assign(site.Name);
            }

            _log.Info("Mirror supervisor: {0} session(s) on {1} site(s)", _sessions.Count, _settings.Sites.Length);
        });
    }

    private void HandleDefine(DefineMirrorSession command)
    {
        var spec = command.Spec;
        var problem = Validate(spec);
        if (problem is not null)
        {
            Sender.Tell(new MirrorCommandResult(false, false, problem));
            return;
        }

        if (_sessions.TryGetValue(spec.Name, out var existing) && existing == spec)
        {
            Sender.Tell(new MirrorCommandResult(true, false, $"mirror {spec.Name} is already defined like this"));
            return;
        }

        var replyTo = Sender;
        var oldSite = existing?.Site;
        PersistEvent(new MirrorSessionDefined(spec, "console", DateTimeOffset.UtcNow), () =>
        {
            Assign(spec.Site);
            if (oldSite is not null && oldSite != spec.Site)
            {
                Assign(oldSite);
            }

            replyTo.Tell(new MirrorCommandResult(true, true, existing is null ? $"mirror {spec.Name} defined" : $"mirror {spec.Name} changed"));
        });
    }

    private void HandleRemove(RemoveMirrorSession command)
    {
        if (!_sessions.TryGetValue(command.Name, out var existing))
        {
            Sender.Tell(new MirrorCommandResult(true, false, $"mirror {command.Name} is not defined"));
            return;
        }

        var replyTo = Sender;
        PersistEvent(new MirrorSessionRemoved(command.Name, "console", DateTimeOffset.UtcNow), () =>
        {
            Assign(existing.Site);
            replyTo.Tell(new MirrorCommandResult(true, true, $"mirror {command.Name} removed"));
        });
    }

    private void HandleHistory(GetMirrorHistory request)
    {
        var known = _sessions.ContainsKey(request.Name) || _history.ContainsKey(request.Name);
        var entries = _history.TryGetValue(request.Name, out var list) ? list.Skip(Math.Max(0, list.Count - Math.Max(1, request.Limit))).ToImmutableArray() : [];
        Sender.Tell(new MirrorHistory(request.Name, known, entries));
    }

    private void HandleRepair(RepairMirrorSession request)
    {
        if (!_sessions.TryGetValue(request.Name, out var spec))
        {
            Sender.Tell(new RepairSessionResult(request.Name, false, null, null));
            return;
        }

        Agent(spec.Site).Forward(new RepairSessionNow(request.Name));
    }

    private void HandleStatus(SessionStatusChanged changed)
    {
        _lastReport[changed.Site] = DateTimeOffset.UtcNow;
        if (!_sessions.TryGetValue(changed.Status.Name, out var spec) || spec.Site != changed.Site)
        {
            return;
        }

        _live[changed.Status.Name] = changed.Status;

        // The audit trail keeps settled statuses; "repairing" is transient and the repair itself is journaled.
        var previous = _observed.GetValueOrDefault(changed.Status.Name);
        if (changed.Status.Health != MirrorHealth.Repairing
            && (previous is null || previous.Health != changed.Status.Health || previous.Reason != changed.Status.Reason))
        {
            PersistEvent(new MirrorSessionObserved(changed.Site, changed.Status));
        }
    }

    /// <summary>Journals a repair once (by its <see cref="MirrorRepair.Id"/>), whether it came alone or again in an agent's report.</summary>
    private void LogRepair(MirrorRepair repair)
    {
        if (!_knownRepairs.Contains(repair.Id))
        {
            Remember(repair.Id);
            PersistEvent(new MirrorRepairLogged(repair));
        }
    }

    private void HandleReport(AgentReport report)
    {
        _lastReport[report.Site] = DateTimeOffset.UtcNow;
        if (!report.RecentRepairs.IsDefault)
        {
            foreach (var repair in report.RecentRepairs.Where(r => r.Site == report.Site))
            {
                LogRepair(repair);
            }
        }

        _siteProblem[report.Site] = report.Connected ? null : report.ConnectionProblem;
        foreach (var status in report.Statuses)
        {
            if (_sessions.TryGetValue(status.Name, out var spec) && spec.Site == report.Site)
            {
                _live[status.Name] = status;
            }
        }

        if (report.Version != SiteVersion(report.Site))
        {
            _log.Info("Mirror supervisor: agent of {0} holds version {1}, current {2}; assigning", report.Site, report.Version, SiteVersion(report.Site));
            Assign(report.Site);
        }
    }

    private void HandleCheckSites()
    {
        var stale = DateTimeOffset.UtcNow - (_settings.ReportInterval * 3);
        foreach (var site in _settings.Sites)
        {
            if (_lastReport.TryGetValue(site.Name, out var last) && last >= stale)
            {
                continue;
            }

            // No agent has reported lately: the site is unreachable (its statuses are not known).
            foreach (var spec in _sessions.Values.Where(s => s.Site == site.Name))
            {
                var reason = _lastReport.ContainsKey(site.Name)
                    ? $"site unreachable: no report from the agent of {site.Name} since {last:O}"
                    : $"site unreachable: no agent of {site.Name} has reported (is a node with role site-{site.Name} up?)";
                _live[spec.Name] = new MirrorSessionStatus(spec.Name, MirrorHealth.Unknown, reason, DateTimeOffset.UtcNow, _live.GetValueOrDefault(spec.Name)?.RepairCount ?? 0, _live.GetValueOrDefault(spec.Name)?.LastRepairAt);
            }

            Assign(site.Name); // an agent that comes up gets its sessions without waiting for its report
        }
    }

    private long SiteVersion(string site) => Math.Max(1, _siteVersions.GetValueOrDefault(site));

    private void Assign(string site)
    {
        var sessions = _sessions.Values.Where(s => s.Site == site).OrderBy(s => s.Name, StringComparer.Ordinal).ToImmutableArray();
        Agent(site).Tell(new AssignSessions(site, SiteVersion(site), sessions));
    }

    private IActorRef Agent(string site)
    {
        if (!_agents.TryGetValue(site, out var agent))
        {
            agent = _agentFor(Context, site);
            _agents[site] = agent;
        }

        return agent;
    }

    private string? Validate(MirrorSessionSpec spec)
    {
        if (spec.Check() is { } problem)
        {
            return $"{problem.Key}: {problem.Problem}";
        }

        var site = _settings.Site(spec.Site);
        if (site is null)
        {
            return $"site: no site \"{spec.Site}\" in fabric.sites (declared: {(_settings.Sites.Length == 0 ? "none" : string.Join(", ", _settings.Sites.Select(s => s.Name)))})";
        }

        return site.Backend != spec.Backend
            ? $"backend: site \"{spec.Site}\" uses backend {site.Backend.ToString().ToLowerInvariant()}, not {spec.Backend.ToString().ToLowerInvariant()}"
            : null;
    }

    private MirrorSessionView View(MirrorSessionSpec spec)
    {
        var status = _live.GetValueOrDefault(spec.Name)
            ?? new MirrorSessionStatus(spec.Name, spec.Enabled ? MirrorHealth.Unknown : MirrorHealth.Disabled, spec.Enabled ? "no report from the site's agent yet" : null, DateTimeOffset.UtcNow, 0, null);
        var last = _history.TryGetValue(spec.Name, out var list) ? list.LastOrDefault(e => e.Repair is not null)?.Repair : null;
        return new MirrorSessionView(spec, status, _repairCounts.GetValueOrDefault(spec.Name), last);
    }

    internal static string Describe(MirrorSessionSpec s) =>
        $"site={s.Site} backend={s.Backend.ToString().ToLowerInvariant()}{(s.Bridge.Length > 0 ? " bridge=" + s.Bridge : "")} sources=[{string.Join(", ", s.Sources)}] direction={s.Direction.ToString().ToLowerInvariant()} output={s.Output}{(s.SnapLength is { } n ? " snaplen=" + n : "")}{(s.Options is { } o ? " " + o.Describe() : "")}{(s.Enabled ? "" : " disabled")}";

    private sealed class MergeConfiguration
    {
        public static readonly MergeConfiguration Instance = new();
    }

    private sealed class CheckSites
    {
        public static readonly CheckSites Instance = new();
    }
}
