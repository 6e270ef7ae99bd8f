using Akka.Actor;
using Akka.Event;

namespace Fabric.Actors.Mirrors;

/// <summary>
/// The protocol every site agent speaks, once: <see cref="AssignSessions"/> from the supervisor
/// (only for this site; a version already held is a re-delivery and changes nothing), a periodic
/// audit every <see cref="MirrorSiteSettings.AuditInterval"/>, an <see cref="AgentReport"/> to
/// <c>reportTo</c> every report interval, <see cref="GetAgentState"/> and
/// <see cref="RepairSessionNow"/>. The sessions, statuses and repairs live in
/// <see cref="State"/>; a backend's agent adds how it applies them.
/// </summary>
public abstract class MirrorAgent : ReceiveActor, IWithTimers
{
    private protected MirrorAgent(MirrorSiteSettings site, MirrorSettings settings, IActorRef reportTo, MirrorMetrics? metrics)
    {
        ArgumentNullException.ThrowIfNull(site);
        ArgumentNullException.ThrowIfNull(settings);
        Site = site;
        Settings = settings;
        Metrics = metrics;
        State = new MirrorAgentState(site.Name, reportTo, Self, metrics);
        Receive<AssignSessions>(HandleAssign);
        Receive<Audit>(_ => OnAudit());
        Receive<ReportTick>(_ => reportTo.Tell(State.Report()));
        Receive<GetAgentState>(_ => Sender.Tell(State.State()));
        Receive<RepairSessionNow>(OnRepairNow);
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected ILoggingAdapter Log { get; } = Context.GetLogger();

    protected MirrorSiteSettings Site { get; }

    protected MirrorSettings Settings { get; }

    protected MirrorMetrics? Metrics { get; }

    private protected MirrorAgentState State { get; }

    protected sealed override void PreStart()
    {
        OnStart();
        Timers.StartPeriodicTimer("audit", Audit.Instance, Site.AuditInterval);
        Timers.StartPeriodicTimer("report", ReportTick.Instance, Settings.ReportInterval);
    }

    /// <summary>Connects to the backend (called once when the agent starts, before the timers).</summary>
    protected abstract void OnStart();

    /// <summary>A new assignment is in <see cref="State"/>; <paramref name="dropped"/> are the sessions no longer assigned.</summary>
    protected abstract void OnAssigned(IReadOnlyList<string> dropped);

    /// <summary>The periodic full reconciliation.</summary>
    protected abstract void OnAudit();

    /// <summary>Reconciles one session now; answers the sender with a <see cref="RepairSessionResult"/>.</summary>
    protected abstract void OnRepairNow(RepairSessionNow request);

    private void HandleAssign(AssignSessions assign)
    {
        if (assign.Site != Site.Name)
        {
            Log.Warning("Ignoring sessions for site {0} sent to the agent of {1}", assign.Site, Site.Name);
            return;
        }

        if (assign.Version == State.Version && State.Assigned)
        {
            return; // re-delivered (supervisor moved or retried): idempotent
        }

        OnAssigned(State.Assign(assign, s => s.Site == Site.Name && s.Backend == Site.Backend));
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
