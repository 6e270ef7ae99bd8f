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
public sealed class TcMirrorAgent : MirrorAgent
{
    private readonly Dictionary<string, (string Trigger, DateTimeOffset DetectedAt, long Timestamp)> _inFlight = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Trigger, DateTimeOffset DetectedAt, long Timestamp)> _pending = new(StringComparer.Ordinal);

    /// <summary>Where each session's filters are: (device, hook, pref), to remove them when the session goes.</summary>
    private readonly Dictionary<string, HashSet<(string Device, string Hook)>> _applied = new(StringComparer.Ordinal);
    private LinkMonitor? _monitor;

    public TcMirrorAgent(MirrorSiteSettings site, MirrorSettings settings, IActorRef reportTo, MirrorMetrics? metrics)
        : base(site, settings, reportTo, metrics)
    {
        Receive<LinkChanged>(HandleLink);
        Receive<MonitorExited>(m =>
        {
            Log.Warning("Site {0}: {1}; restarting it and auditing", Site.Name, m.Reason);
            Timers.StartSingleTimer("monitor", StartMonitor.Instance, Settings.ReconnectMinBackoff);
        });
        Receive<StartMonitor>(_ => BeginMonitor());
        Receive<SessionApplied>(HandleApplied);
    }

    public static Props Props(MirrorSiteSettings site, MirrorSettings settings, IActorRef reportTo, MirrorMetrics? metrics = null) =>
        Akka.Actor.Props.Create(() => new TcMirrorAgent(site, settings, reportTo, metrics));

    protected override void OnStart() => BeginMonitor();

    protected override void OnAudit() => ReconcileAll("audit");

    protected override void PostStop() => _monitor?.Dispose();

    private void BeginMonitor()
    {
        _monitor?.Dispose();
        var self = Self;
        _monitor = LinkMonitor.Start(
            (name, deleted) => self.Tell(new LinkChanged(name, deleted, DateTimeOffset.UtcNow, Stopwatch.GetTimestamp())),
            reason => self.Tell(new MonitorExited(reason)));
        State.ConnectionProblem = null;
        ReconcileAll("resync");
    }

    protected override void OnAssigned(IReadOnlyList<string> dropped)
    {
        foreach (var session in dropped)
        {
            Remove(session);
        }

        ReconcileAll("assigned");
    }

    private void HandleLink(LinkChanged link)
    {
        foreach (var spec in State.Sessions.Values)
        {
            var involved = spec.ParsedSources().Append(spec.ParsedOutput()).Any(e => e.CandidateNames().Contains(link.Name));
            if (involved)
            {
                Schedule(spec.Name, "event", link.DetectedAt, link.Timestamp);
            }
        }
    }

    protected override void OnRepairNow(RepairSessionNow request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var known = State.Sessions.ContainsKey(request.Session);
        if (known)
        {
            Schedule(request.Session, "manual", DateTimeOffset.UtcNow, Stopwatch.GetTimestamp());
        }

        Sender.Tell(new RepairSessionResult(request.Session, known, null, State.StatusOf(request.Session)));
    }

    private void ReconcileAll(string trigger)
    {
        var now = DateTimeOffset.UtcNow;
        var ts = Stopwatch.GetTimestamp();
        foreach (var name in State.Sessions.Keys)
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

        var spec = State.Sessions[name];
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
                State.RecordRepair(new MirrorRepair(done.Session, Site.Name, flight.DetectedAt, flight.Trigger, result.Drift ?? "", elapsed, result.Error));
                Log.Info("Site {0}: {1} repair of {2} in {3:0.0} ms: {4} {5}", Site.Name, flight.Trigger, done.Session, elapsed.TotalMilliseconds, result.Drift, result.Error);
            }

            if (State.Sessions.ContainsKey(done.Session))
            {
                State.SetStatus(done.Session, result.Error is null ? result.Health : MirrorHealth.Failed, result.Error ?? result.Reason);
            }
        }
        else
        {
            var message = done.Failure?.GetBaseException().Message ?? "unknown error";
            State.RecordRepair(new MirrorRepair(done.Session, Site.Name, flight.DetectedAt, flight.Trigger, "", elapsed, message));
            if (State.Sessions.ContainsKey(done.Session))
            {
                State.SetStatus(done.Session, MirrorHealth.Failed, message);
            }
        }

        if (_pending.Remove(done.Session, out var next) && State.Sessions.ContainsKey(done.Session))
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
                        Log.Warning("Site {0}: removing {1} from {2} {3}: {4}", Site.Name, session, device, hook, ex.Message);
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
}
