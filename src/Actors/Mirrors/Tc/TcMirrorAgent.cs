using System.Diagnostics;
using Akka.Actor;
using Akka.Event;

namespace Fabric.Actors.Mirrors.Tc;

/// <summary>
/// The agent of one <c>tc</c> site (Linux bridges and veths on this host). For each session it
/// keeps a mirred filter on the ingress and/or egress of every source device towards the output
/// device, and re-applies when a device comes back (<c>ip monitor link</c>): a mirred action whose
/// target was deleted does not re-bind to a new device of the same name, and a re-created source
/// has no filters at all. A periodic audit compares with <c>tc -j filter show</c>.
/// </summary>
public sealed class TcMirrorAgent : ReceiveActor, IWithTimers
{
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly MirrorSiteSettings _site;
    private readonly MirrorSettings _settings;
    private readonly MirrorAgentState _state;
    private readonly Dictionary<string, (string Trigger, DateTimeOffset DetectedAt, long Timestamp)> _inFlight = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Trigger, DateTimeOffset DetectedAt, long Timestamp)> _pending = new(StringComparer.Ordinal);

    /// <summary>Where each session's filters are: (device, hook, pref), to remove them when the session goes.</summary>
    private readonly Dictionary<string, HashSet<(string Device, string Hook)>> _applied = new(StringComparer.Ordinal);
    private LinkMonitor? _monitor;

    public TcMirrorAgent(MirrorSiteSettings site, MirrorSettings settings, IActorRef reportTo, MirrorMetrics? metrics)
    {
        _site = site;
        _settings = settings;
        _state = new MirrorAgentState(site.Name, reportTo, Self, metrics);
        Receive<AssignSessions>(HandleAssign);
        Receive<LinkChanged>(HandleLink);
        Receive<MonitorExited>(m =>
        {
            _log.Warning("Site {0}: {1}; restarting it and auditing", _site.Name, m.Reason);
            Timers.StartSingleTimer("monitor", StartMonitor.Instance, _settings.ReconnectMinBackoff);
        });
        Receive<StartMonitor>(_ => BeginMonitor());
        Receive<SessionApplied>(HandleApplied);
        Receive<Audit>(_ => ReconcileAll("audit"));
        Receive<ReportTick>(_ => reportTo.Tell(_state.Report()));
        Receive<GetAgentState>(_ => Sender.Tell(_state.State()));
        Receive<RepairSessionNow>(HandleRepairNow);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(MirrorSiteSettings site, MirrorSettings settings, IActorRef reportTo, MirrorMetrics? metrics = null) =>
        Akka.Actor.Props.Create(() => new TcMirrorAgent(site, settings, reportTo, metrics));

    protected override void PreStart()
    {
        BeginMonitor();
        Timers.StartPeriodicTimer("audit", Audit.Instance, _site.AuditInterval);
        Timers.StartPeriodicTimer("report", ReportTick.Instance, _settings.ReportInterval);
    }

    protected override void PostStop() => _monitor?.Dispose();

    private void BeginMonitor()
    {
        _monitor?.Dispose();
        var self = Self;
        _monitor = LinkMonitor.Start(
            (name, deleted) => self.Tell(new LinkChanged(name, deleted, DateTimeOffset.UtcNow, Stopwatch.GetTimestamp())),
            reason => self.Tell(new MonitorExited(reason)));
        _state.ConnectionProblem = null;
        ReconcileAll("resync");
    }

    private void HandleAssign(AssignSessions assign)
    {
        if (assign.Site != _site.Name || (assign.Version == _state.Version && _state.Assigned))
        {
            return;
        }

        foreach (var dropped in _state.Assign(assign, s => s.Backend == MirrorBackendKind.Tc && s.Site == _site.Name))
        {
            Remove(dropped);
        }

        ReconcileAll("assigned");
    }

    private void HandleLink(LinkChanged link)
    {
        foreach (var spec in _state.Sessions.Values)
        {
            var involved = spec.ParsedSources().Append(spec.ParsedOutput()).Any(e => e.CandidateNames().Contains(link.Name));
            if (involved)
            {
                Schedule(spec.Name, "event", link.DetectedAt, link.Timestamp);
            }
        }
    }

    private void HandleRepairNow(RepairSessionNow request)
    {
        var known = _state.Sessions.ContainsKey(request.Session);
        if (known)
        {
            Schedule(request.Session, "manual", DateTimeOffset.UtcNow, Stopwatch.GetTimestamp());
        }

        Sender.Tell(new RepairSessionResult(request.Session, known, null, _state.StatusOf(request.Session)));
    }

    private void ReconcileAll(string trigger)
    {
        var now = DateTimeOffset.UtcNow;
        var ts = Stopwatch.GetTimestamp();
        foreach (var name in _state.Sessions.Keys)
        {
            Schedule(name, trigger, now, ts);
        }
    }

    private void Schedule(string name, string trigger, DateTimeOffset detectedAt, long timestamp)
    {
        if (_inFlight.ContainsKey(name))
        {
            _pending.TryAdd(name, (trigger, detectedAt, timestamp));
            return;
        }

        var spec = _state.Sessions[name];
        _inFlight[name] = (trigger, detectedAt, timestamp);
        var applied = _applied.TryGetValue(name, out var a) ? a.ToHashSet() : [];
        Task.Run(() => TcMirrorPlanner.Reconcile(spec, applied)).PipeTo(Self, success: r => new SessionApplied(name, r, null), failure: e => new SessionApplied(name, null, e));
    }

    private void HandleApplied(SessionApplied done)
    {
        if (!_inFlight.Remove(done.Session, out var flight))
        {
            return;
        }

        var elapsed = Stopwatch.GetElapsedTime(flight.Timestamp);
        if (done.Result is { } result)
        {
            _applied[done.Session] = [.. result.Applied];
            if (result.Drift is not null || result.Error is not null)
            {
                _state.RecordRepair(new MirrorRepair(done.Session, _site.Name, flight.DetectedAt, flight.Trigger, result.Drift ?? "", elapsed, result.Error));
                _log.Info("Site {0}: {1} repair of {2} in {3:0.0} ms: {4} {5}", _site.Name, flight.Trigger, done.Session, elapsed.TotalMilliseconds, result.Drift, result.Error);
            }

            if (_state.Sessions.ContainsKey(done.Session))
            {
                _state.SetStatus(done.Session, result.Error is null ? result.Health : MirrorHealth.Failed, result.Error ?? result.Reason);
            }
        }
        else
        {
            var message = done.Failure?.GetBaseException().Message ?? "unknown error";
            _state.RecordRepair(new MirrorRepair(done.Session, _site.Name, flight.DetectedAt, flight.Trigger, "", elapsed, message));
            if (_state.Sessions.ContainsKey(done.Session))
            {
                _state.SetStatus(done.Session, MirrorHealth.Failed, message);
            }
        }

        if (_pending.Remove(done.Session, out var next) && _state.Sessions.ContainsKey(done.Session))
        {
            Schedule(done.Session, next.Trigger, next.DetectedAt, next.Timestamp);
        }
    }

    private void Remove(string session)
    {
        if (_applied.Remove(session, out var where))
        {
            var pref = TcCommands.PrefOf(session);
            var cookie = TcCommands.CookieOf(session);
            foreach (var (device, hook) in where)
            {
                if (TcCommands.DeviceExists(device) && TcCommands.FabricFilters(device, hook).Any(f => f.Pref == pref && f.Cookie == cookie))
                {
                    try
                    {
                        TcCommands.DeleteFilter(device, hook, pref);
                    }
                    catch (TcCommandException ex)
                    {
                        _log.Warning("Site {0}: removing {1} from {2} {3}: {4}", _site.Name, session, device, hook, ex.Message);
                    }
                }
            }
        }
    }

    private sealed record LinkChanged(string Name, bool Deleted, DateTimeOffset DetectedAt, long Timestamp);

    private sealed record MonitorExited(string Reason);

    private sealed record SessionApplied(string Session, TcReconcileResult? Result, Exception? Failure);

    private sealed class StartMonitor
    {
        public static readonly StartMonitor Instance = new();
    }

    private sealed class Audit
    {
        public static readonly Audit Instance = new();
    }

    private sealed class ReportTick
    {
        public static readonly ReportTick Instance = new();
    }
}
