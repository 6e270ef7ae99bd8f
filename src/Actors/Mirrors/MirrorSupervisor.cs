using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using Fabric.Actors.Persistence;

namespace Fabric.Actors.Mirrors;

/// <summary>
/// The mirror supervisor: a cluster singleton on role <c>supervisor</c> (actor
/// <c>/user/mirror-supervisor</c>, reached through <c>/user/mirror-supervisor-proxy</c>).
/// Event-sourced through its child <see cref="MirrorJournal"/>: sessions defined, changed and
/// removed, and an audit trail of what the agents observed and repaired. Hands each site's
/// sessions to that site's agent (and again whenever an agent reports another assignment version,
/// e.g. after either of them moved), merges <c>fabric.mirrors</c> from HOCON into the persisted
/// state at start, and answers the console. Commands are idempotent: the singleton proxy
/// re-delivers buffered commands after a failover.
/// </summary>
/// <remarks>
/// <para>The supervisor itself is not the persistent actor, so a journal outage does not stop it.
/// While the journal is unavailable (its child stopped on a failed write or recovery; a new one is
/// started after <c>journal-min-backoff</c>, doubling up to <c>journal-max-backoff</c>):</para>
/// <list type="bullet">
/// <item>repairs and observed statuses reported by the agents are applied to the state at once
/// (history, counts) and kept in memory, in order, until the journal takes them; an event that a
/// failed write may nevertheless have stored is recognised after recovery and not written twice;</item>
/// <item>commands that change the desired state (define, remove, a changed <c>fabric.mirrors</c>)
/// are refused with <see cref="MirrorCommandResult.JournalUnavailable"/>: nothing is changed, the
/// agents keep the last assignment and keep repairing it;</item>
/// <item>queries answer from memory and show the journal's state (<see cref="MirrorJournalStatus"/>).</item>
/// </list>
/// <para>Until the state was read from the journal once after start, the supervisor knows no
/// sessions: it assigns nothing (an agent keeps what it holds), refuses commands and answers
/// queries with <see cref="MirrorSupervisorUnavailable"/>; repairs reported meanwhile are kept and
/// journaled after recovery unless already journaled.</para>
/// </remarks>
public sealed class MirrorSupervisor : ReceiveActor, IWithTimers
{
    /// <summary>Name of the singleton manager under <c>/user</c>.</summary>
    public const string Name = "mirror-supervisor";

    /// <summary>Name of the proxy every node runs under <c>/user</c>.</summary>
    public const string ProxyName = "mirror-supervisor-proxy";

    private const string RestartJournalTimer = "restart-journal";

    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly MirrorSettings _settings;
    private readonly Func<IUntypedActorContext, string, IActorRef> _agentFor;

    /// <summary>The journal's side: the state (as confirmed, and with the events kept for the journal) and the journal child's life.</summary>
    private readonly JournalOutbox _outbox;

    private readonly Dictionary<string, IActorRef> _agents = new(StringComparer.Ordinal);
    private readonly Dictionary<string, MirrorSessionStatus> _live = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _lastReport = new(StringComparer.Ordinal);

    /// <summary>What polled backends (aws) last reported holding for each session; not journaled.</summary>
    private readonly Dictionary<string, ImmutableArray<MirrorBackendSession>> _backendSessions = new(StringComparer.Ordinal);

    /// <summary>The sessions of <c>fabric.mirrors</c> are journaled: sites are assigned from then on.</summary>
    private bool _merged;

    /// <summary>Stopping once the journal has taken the kept events (<see cref="TerminationMessage"/>).</summary>
    private bool _stopping;

    public MirrorSupervisor(MirrorSettings settings, Func<IUntypedActorContext, string, IActorRef> agentFor, string persistenceId)
    {
        _settings = settings;
        _agentFor = agentFor;
        _outbox = new JournalOutbox(settings, (tailAfter, start) =>
            Context.Watch(Context.ActorOf(MirrorJournal.Props(persistenceId, settings, Self, tailAfter), MirrorJournal.Name + "-" + start)));

        Receive<JournalRecovered>(HandleRecovered);
        Receive<JournalWritten>(HandleWritten);
        Receive<JournalRejected>(HandleRejected);
        Receive<JournalFailed>(f => _outbox.Failed(f.Problem));
        Receive<Terminated>(HandleTerminated);
        Receive<RestartJournal>(_ => _outbox.Start());

        Receive<DefineMirrorSession>(HandleDefine);
        Receive<RemoveMirrorSession>(HandleRemove);
        Receive<ListMirrorSessions>(_ => Sender.Tell(Unrecovered() as object
            ?? new MirrorSessionList([.. State.Sessions.Values.OrderBy(s => s.Name, StringComparer.Ordinal).Select(View)], _outbox.Status)));
        Receive<GetMirrorSession>(m =>
        {
            if (Unrecovered() is { } unavailable)
            {
                Sender.Tell(unavailable);
                return;
            }

            Sender.Tell(new MirrorSessionDetail(m.Name, State.Sessions.TryGetValue(m.Name, out var s) ? View(s) : null));
        });
        Receive<GetMirrorHistory>(HandleHistory);
        Receive<RepairMirrorSession>(HandleRepair);
        Receive<SessionStatusChanged>(HandleStatus);
        Receive<RepairRecorded>(m => LogRepair(m.Repair));
        Receive<AgentReport>(HandleReport);
        Receive<CheckSites>(_ => HandleCheckSites());
        Receive<StopGracefully>(_ => HandleStop());
        Receive<StopNow>(_ => Context.Stop(Self));
    }

    /// <summary>
    /// The singleton's termination message (hand-over to another node): stops once the journal
    /// has taken the events kept in memory, at most <see cref="StopGracePeriod"/> later (and at once
    /// while the journal is unavailable).
    /// </summary>
    public static object TerminationMessage => StopGracefully.Instance;

    /// <summary>How long a stopping supervisor waits for the journal to take its kept events.</summary>
    public static readonly TimeSpan StopGracePeriod = TimeSpan.FromSeconds(5);

    public ITimerScheduler Timers { get; set; } = null!;

    /// <summary>The one state of the domain: the journaled state plus the events kept for the journal (only once recovered, see <see cref="Unrecovered"/>).</summary>
    private MirrorSupervisorState State => _outbox.State!;

    /// <summary>Props; <paramref name="agentFor"/> gives the actor that reaches a site's agent (a singleton proxy in a cluster).</summary>
    public static Props Props(MirrorSettings settings, Func<IUntypedActorContext, string, IActorRef> agentFor, string persistenceId = "fabric-mirror-supervisor") =>
        Akka.Actor.Props.Create(() => new MirrorSupervisor(settings, agentFor, persistenceId));

    protected override void PreStart()
    {
        MirrorsExtension.Get(Context.System).SupervisorStarted();
        Timers.StartPeriodicTimer("check-sites", CheckSites.Instance, _settings.ReportInterval);
        _outbox.Start();
        Publish();
        base.PreStart();
    }

    protected override void PostStop()
    {
        if (_outbox.Count > 0)
        {
            _log.Warning("Mirror supervisor stopped with {0} event(s) the journal has not taken: {1}", _outbox.Count, string.Join("; ", _outbox.Entries.Select(p => p.Event)));
        }

        MirrorsExtension.Get(Context.System).SupervisorStopped();
        base.PostStop();
    }

    // ---- the journal (its states are JournalOutbox's; here what the rest of the world sees of them) ----

    private void HandleTerminated(Terminated terminated)
    {
        if (_outbox.Stopped(terminated.ActorRef) is not { } outage)
        {
            return;
        }

        // Commands wait for their own write: refused now (the client may send them again), and taken out of the state.
        foreach (var p in outage.Refused)
        {
            p.ReplyTo!.Tell(new MirrorCommandResult(false, false, $"{p.Subject}: not confirmed, the supervisor's journal failed ({_outbox.Problem}); nothing was changed unless `fabric mirrors show {p.Subject}` says so once the journal is back")
            {
                JournalUnavailable = true,
            });
        }

        ForgetRemoved();
        if (_stopping)
        {
            Context.Stop(Self);
            return;
        }

        _log.Warning("Mirror supervisor: journal unavailable ({0}); {1} event(s) kept in memory; trying again in {2:0.0} s", _outbox.Problem, _outbox.Count, outage.RetryIn.TotalSeconds);
        Timers.StartSingleTimer(RestartJournalTimer, RestartJournal.Instance, outage.RetryIn);
        Publish();
    }

    private void HandleRecovered(JournalRecovered recovered)
    {
        if (_outbox.Recovered(Sender, recovered) is not { } recovery)
        {
            return;
        }

        ForgetRemoved();
        if (recovery.First)
        {
            _log.Info("Mirror supervisor: state recovered from the journal at sequence number {0} ({1} session(s))", recovered.LastSequenceNr, _outbox.Confirmed!.Sessions.Count);
            MergeConfiguration();
        }
        else
        {
            _log.Info("Mirror supervisor: journal available again after {0:0.0} s (sequence number {1}); writing {2} kept event(s)",
                recovery.DownFor.TotalSeconds, recovered.LastSequenceNr, _outbox.Count);
        }

        _outbox.Flush();
        Publish();
    }

    private void HandleWritten(JournalWritten written)
    {
        if (_outbox.Written(written) is not { } p)
        {
            return; // an answer of a journal that failed since (its events were sent again)
        }

        switch (p.Event)
        {
            case MirrorSessionDefined d:
                Assign(d.Spec.Site);
                if (p.OldSite is { } oldSite && oldSite != d.Spec.Site)
                {
                    Assign(oldSite);
                }

                break;
            case MirrorSessionRemoved:
                Assign(p.OldSite!);
                break;
        }

        p.ReplyTo?.Tell(new MirrorCommandResult(true, true, p.Done!));
        if (!_merged && !_outbox.Entries.Any(o => o.Config))
        {
            Merged();
        }

        Publish();
        if (_stopping && _outbox.Count == 0)
        {
            Context.Stop(Self);
        }
    }

    private void HandleStop()
    {
        if (_outbox.Count == 0 || !_outbox.Available)
        {
            Context.Stop(Self);
            return;
        }

        _stopping = true;
        _log.Info("Mirror supervisor: stopping once the journal has taken {0} kept event(s)", _outbox.Count);
        Timers.StartSingleTimer("stop", StopNow.Instance, StopGracePeriod);
    }

    private void HandleRejected(JournalRejected rejected)
    {
        if (_outbox.Rejected(rejected) is not { } p)
        {
            return;
        }

        _log.Error("Mirror supervisor: the journal refused an event; it is kept in memory only and is lost at the next restart: {0} ({1})", p.Event, rejected.Problem);
        p.ReplyTo?.Tell(new MirrorCommandResult(false, false, $"{p.Subject}: the journal refused the change ({rejected.Problem})"));
        ForgetRemoved();
        Publish();
    }

    /// <summary>Keeps an event for the journal: applied to the state now, written when the journal takes it.</summary>
    private void Enqueue(OutboxEntry entry)
    {
        _outbox.Enqueue(entry);
        if (entry.Event is MirrorSessionRemoved r)
        {
            _live.Remove(r.Name);
            _backendSessions.Remove(r.Name);
        }

        Publish();
    }

    /// <summary>Drops the live statuses of sessions the state no longer has (a refused command taken out of it).</summary>
    private void ForgetRemoved()
    {
        if (_outbox.State is not { } state)
        {
            return;
        }

        foreach (var name in _live.Keys.Where(n => !state.Sessions.ContainsKey(n)).ToList())
        {
            _live.Remove(name);
        }
    }

    private void Publish() => PersistenceFailures.Get(Context.System).SetJournal(Name, _outbox.Available, _outbox.Waiting);

    private MirrorSupervisorUnavailable? Unrecovered() => _outbox.State is null
        ? new MirrorSupervisorUnavailable($"the mirror supervisor has not read its state from the journal yet ({_outbox.Problem})", _outbox.Status)
        : null;

    /// <summary>Why a command that changes the desired state cannot be taken now, or null.</summary>
    private MirrorCommandResult? RefuseWhileUnavailable(string subject)
    {
        if (_outbox.State is null)
        {
            return new MirrorCommandResult(false, false, $"{subject}: refused, the mirror supervisor has not read its state from the journal yet ({_outbox.Problem}); nothing was changed, send it again later") { JournalUnavailable = true };
        }

        return _outbox.Available
            ? null
            : new MirrorCommandResult(false, false, $"{subject}: refused, the supervisor's journal is unavailable since {_outbox.UnavailableSince:HH:mm:ss} UTC ({_outbox.Problem}); nothing was changed, the agents keep the current sessions; send it again when `fabric mirrors list` shows the journal available") { JournalUnavailable = true };
    }

    // ---- commands ----

    private void MergeConfiguration()
    {
        var declared = _settings.Mirrors.Where(m => !State.Sessions.TryGetValue(m.Name, out var existing) || existing != m).ToList();
        if (declared.Count > 0)
        {
            _log.Info("Mirror supervisor: merging {0} session(s) from fabric.mirrors", declared.Count);
        }

        foreach (var spec in declared)
        {
            var oldSite = State.Sessions.GetValueOrDefault(spec.Name)?.Site;
            Enqueue(new OutboxEntry(new MirrorSessionDefined(spec, "config", DateTimeOffset.UtcNow), null, spec.Name) { OldSite = oldSite, Config = true });
        }

        if (declared.Count == 0)
        {
            Merged();
        }
    }

    private void Merged()
    {
        _merged = true;
        foreach (var site in _settings.Sites)
        {
            Assign(site.Name);
        }

        _log.Info("Mirror supervisor: {0} session(s) on {1} site(s)", _outbox.Confirmed!.Sessions.Count, _settings.Sites.Length);
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

        if (_outbox.State is not null && State.Sessions.TryGetValue(spec.Name, out var same) && same == spec)
        {
            Sender.Tell(new MirrorCommandResult(true, false, $"mirror {spec.Name} is already defined like this"));
            return;
        }

        if (RefuseWhileUnavailable("mirror " + spec.Name) is { } refused)
        {
            Sender.Tell(refused);
            return;
        }

        var existing = State.Sessions.GetValueOrDefault(spec.Name);
        Enqueue(new OutboxEntry(new MirrorSessionDefined(spec, "console", DateTimeOffset.UtcNow), Sender, spec.Name)
        {
            OldSite = existing?.Site,
            Done = existing is null ? $"mirror {spec.Name} defined" : $"mirror {spec.Name} changed",
        });
    }

    private void HandleRemove(RemoveMirrorSession command)
    {
        if (_outbox.State is not null && !State.Sessions.ContainsKey(command.Name))
        {
            Sender.Tell(new MirrorCommandResult(true, false, $"mirror {command.Name} is not defined"));
            return;
        }

        if (RefuseWhileUnavailable("mirror " + command.Name) is { } refused)
        {
            Sender.Tell(refused);
            return;
        }

        var existing = State.Sessions[command.Name];
        Enqueue(new OutboxEntry(new MirrorSessionRemoved(command.Name, "console", DateTimeOffset.UtcNow), Sender, command.Name)
        {
            OldSite = existing.Site,
            Done = $"mirror {command.Name} removed",
        });
    }

    private void HandleHistory(GetMirrorHistory request)
    {
        if (Unrecovered() is { } unavailable)
        {
            Sender.Tell(unavailable);
            return;
        }

        var known = State.Sessions.ContainsKey(request.Name) || State.History.ContainsKey(request.Name);
        var entries = State.History.TryGetValue(request.Name, out var list) ? list.Skip(Math.Max(0, list.Count - Math.Max(1, request.Limit))).ToImmutableArray() : [];
        Sender.Tell(new MirrorHistory(request.Name, known, entries));
    }

    private void HandleRepair(RepairMirrorSession request)
    {
        if (Unrecovered() is { } unavailable)
        {
            Sender.Tell(unavailable);
            return;
        }

        if (!State.Sessions.TryGetValue(request.Name, out var spec))
        {
            Sender.Tell(new RepairSessionResult(request.Name, false, null, null));
            return;
        }

        Agent(spec.Site).Forward(new RepairSessionNow(request.Name));
    }

    private void HandleStatus(SessionStatusChanged changed)
    {
        _lastReport[changed.Site] = DateTimeOffset.UtcNow;
        if (_outbox.State is null || !State.Sessions.TryGetValue(changed.Status.Name, out var spec) || spec.Site != changed.Site)
        {
            return;
        }

        _live[changed.Status.Name] = changed.Status;

        // The audit trail keeps settled statuses; "repairing" is transient and the repair itself is journaled.
        var previous = State.Observed.GetValueOrDefault(changed.Status.Name);
        if (changed.Status.Health != MirrorHealth.Repairing
            && (previous is null || previous.Health != changed.Status.Health || previous.Reason != changed.Status.Reason))
        {
            Enqueue(new OutboxEntry(new MirrorSessionObserved(changed.Site, changed.Status), null, changed.Status.Name));
        }
    }

    /// <summary>Journals a repair once (by its <see cref="MirrorRepair.Id"/>), whether it came alone or again in an agent's report.</summary>
    private void LogRepair(MirrorRepair repair)
    {
        if (_outbox.State is null)
        {
            if (_outbox.KeepEarly(repair))
            {
                Publish();
            }

            return;
        }

        if (!State.Knows(repair.Id))
        {
            Enqueue(new OutboxEntry(new MirrorRepairLogged(repair), null, repair.Session));
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

        if (_outbox.State is null)
        {
            return;
        }

        var held = report.BackendSessions.IsDefault ? [] : report.BackendSessions;
        foreach (var spec in State.Sessions.Values.Where(s => s.Site == report.Site))
        {
            _backendSessions[spec.Name] = [.. held.Where(b => b.Rule == spec.Name)];
        }

        foreach (var status in report.Statuses)
        {
            if (State.Sessions.TryGetValue(status.Name, out var spec) && spec.Site == report.Site)
            {
                _live[status.Name] = status;
            }
        }

        if (_merged && report.Version != _outbox.Confirmed!.SiteVersion(report.Site))
        {
            _log.Info("Mirror supervisor: agent of {0} holds version {1}, current {2}; assigning", report.Site, report.Version, _outbox.Confirmed.SiteVersion(report.Site));
            Assign(report.Site);
        }
    }

    private void HandleCheckSites()
    {
        if (_outbox.State is null)
        {
            return;
        }

        var stale = DateTimeOffset.UtcNow - (_settings.ReportInterval * 3);
        foreach (var site in _settings.Sites)
        {
            if (_lastReport.TryGetValue(site.Name, out var last) && last >= stale)
            {
                continue;
            }

            // No agent has reported lately: the site is unreachable (its statuses are not known).
            foreach (var spec in State.Sessions.Values.Where(s => s.Site == site.Name))
            {
                var reason = _lastReport.ContainsKey(site.Name)
                    ? $"site unreachable: no report from the agent of {site.Name} since {last:O}"
                    : $"site unreachable: no agent of {site.Name} has reported (is a node with role site-{site.Name} up?)";
                _live[spec.Name] = new MirrorSessionStatus(spec.Name, MirrorHealth.Unknown, reason, DateTimeOffset.UtcNow, _live.GetValueOrDefault(spec.Name)?.RepairCount ?? 0, _live.GetValueOrDefault(spec.Name)?.LastRepairAt);
            }

            if (_merged)
            {
                Assign(site.Name); // an agent that comes up gets its sessions without waiting for its report
            }
        }
    }

    /// <summary>Sends a site's sessions as the journal confirmed them (never before the state was recovered and merged).</summary>
    private void Assign(string site)
    {
        if (!_merged || _outbox.Confirmed is not { } confirmed)
        {
            return;
        }

        var sessions = confirmed.Sessions.Values.Where(s => s.Site == site).OrderBy(s => s.Name, StringComparer.Ordinal).ToImmutableArray();
        Agent(site).Tell(new AssignSessions(site, confirmed.SiteVersion(site), sessions));
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
        if (spec.Check(_settings.Backends) is { } problem)
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
        var last = State.History.TryGetValue(spec.Name, out var list) ? list.LastOrDefault(e => e.Repair is not null)?.Repair : null;
        return new MirrorSessionView(spec, status, State.RepairCounts.GetValueOrDefault(spec.Name), last, _backendSessions.GetValueOrDefault(spec.Name, []));
    }

    internal static string Describe(MirrorSessionSpec s) =>
        $"site={s.Site} backend={s.Backend.ToString().ToLowerInvariant()}{(s.Bridge.Length > 0 ? " bridge=" + s.Bridge : "")} sources=[{string.Join(", ", s.Sources)}] direction={s.Direction.ToString().ToLowerInvariant()} output={s.Output}{(s.SnapLength is { } n ? " snaplen=" + n : "")}{(s.Options is { } o ? " " + o.Describe() : "")}{(s.Enabled ? "" : " disabled")}";


    private sealed class StopGracefully
    {
        public static readonly StopGracefully Instance = new();
    }

    private sealed class StopNow
    {
        public static readonly StopNow Instance = new();
    }

    private sealed class RestartJournal
    {
        public static readonly RestartJournal Instance = new();
    }

    private sealed class CheckSites
    {
        public static readonly CheckSites Instance = new();
    }
}
