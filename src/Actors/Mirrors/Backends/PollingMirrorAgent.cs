using System.Collections.Immutable;
using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Fabric.Protocols;

namespace Fabric.Actors.Mirrors.Backends;

/// <summary>
/// The agent of a site whose backend is polled (iosxe over RESTCONF, aws over the EC2 API): on
/// assignment, every audit interval, on <c>fabric mirrors repair</c> and after the backend is
/// reachable again, it reconciles every session one after another through its
/// <see cref="IMirrorBackend"/>, then removes what Fabric created for sessions no longer assigned.
/// A change found and made is a repair in the history; a refused change is <c>failed (error)</c>;
/// an unreachable backend makes every session <c>unknown</c> and is retried with backoff.
/// </summary>
public sealed class PollingMirrorAgent : MirrorAgent
{
    private readonly Func<IMirrorBackend> _factory;
    private readonly CancellationTokenSource _stopping = new();
    private IMirrorBackend? _backend;
    private string? _pendingTrigger;
    private bool _busy;
    private readonly Backoff _backoff;

    public PollingMirrorAgent(MirrorSiteSettings site, MirrorSettings settings, IActorRef reportTo, MirrorMetrics? metrics, Func<IMirrorBackend> factory)
        : base(site, settings, reportTo, metrics)
    {
        _factory = factory;
        _backoff = new Backoff(settings.ReconnectMinBackoff, settings.ReconnectMaxBackoff);
        Receive<Cycle>(c => Start(c.Trigger));
        Receive<CycleDone>(HandleDone);
    }

    public static Props Props(MirrorSiteSettings site, MirrorSettings settings, IActorRef reportTo, MirrorMetrics? metrics, Func<IMirrorBackend> factory) =>
        Akka.Actor.Props.Create(() => new PollingMirrorAgent(site, settings, reportTo, metrics, factory));

    protected override void OnStart() => Self.Tell(new Cycle("connected"));

    protected override void OnAudit() => Start("audit");

    protected override void PostStop()
    {
        _stopping.Cancel();
        _backend?.Dispose();
        _stopping.Dispose();
    }

    protected override void OnAssigned(IReadOnlyList<string> dropped) => Start("assigned");

    protected override void OnRepairNow(RepairSessionNow request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var known = State.Sessions.ContainsKey(request.Session);
        if (known)
        {
            Start("manual");
        }

        Sender.Tell(new RepairSessionResult(request.Session, known, null, State.StatusOf(request.Session)));
    }

    private void Start(string trigger)
    {
        if (_busy)
        {
            _pendingTrigger ??= trigger;
            return;
        }

        if (_backend is null)
        {
            try
            {
                _backend = _factory();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidOperationException or ArgumentException or System.Security.Cryptography.CryptographicException)
            {
                Unreachable(ex.Message);
                return;
            }
        }

        _busy = true;
        var backend = _backend;
        var sessions = State.Sessions.Values.ToImmutableArray();
        var assigned = State.Assigned ? sessions.Select(s => s.Name).ToHashSet(StringComparer.Ordinal) : null;
        var token = _stopping.Token;
        RunCycle(backend, sessions, assigned, trigger, token).PipeTo(Self);
    }

    private static async Task<CycleDone> RunCycle(IMirrorBackend backend, ImmutableArray<MirrorSessionSpec> sessions, HashSet<string>? assigned, string trigger, CancellationToken token)
    {
        var results = new List<(MirrorSessionSpec Spec, MirrorBackendOutcome Outcome, DateTimeOffset At, TimeSpan Took)>();
        try
        {
            foreach (var spec in sessions)
            {
                var at = DateTimeOffset.UtcNow;
                var started = Stopwatch.GetTimestamp();
                if (!spec.Enabled)
                {
                    results.Add((spec, new MirrorBackendOutcome(MirrorHealth.Disabled, null, null, null), at, TimeSpan.Zero));
                    continue;
                }

                MirrorBackendOutcome outcome;
                try
                {
                    outcome = await backend.ReconcileAsync(spec, token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not MirrorBackendUnreachableException and not OperationCanceledException)
                {
                    outcome = new MirrorBackendOutcome(MirrorHealth.Failed, ex.Message, "", ex.Message);
                }

                results.Add((spec, outcome, at, Stopwatch.GetElapsedTime(started)));
            }

            // Disabled sessions count as not assigned: what Fabric made for them is removed.
            IReadOnlyList<string> removed = [];
            string? removeError = null;
            if (assigned is not null)
            {
                try
                {
                    removed = await backend.RemoveOrphansAsync(assigned.Where(n => sessions.Any(s => s.Name == n && s.Enabled)).ToHashSet(StringComparer.Ordinal), token).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not MirrorBackendUnreachableException and not OperationCanceledException)
                {
                    removeError = ex.Message;
                }
            }

            return new CycleDone(trigger, results, removed, null) { RemoveError = removeError };
        }
        catch (MirrorBackendUnreachableException ex)
        {
            return new CycleDone(trigger, results, [], ex.Message);
        }
        catch (OperationCanceledException)
        {
            return new CycleDone(trigger, results, [], "stopped");
        }
        catch (Exception ex)
        {
            // Anything else still ends the cycle (never leaves the agent busy forever).
            return new CycleDone(trigger, results, [], ex.Message);
        }
    }

    private void HandleDone(CycleDone done)
    {
        _busy = false;
        foreach (var (spec, outcome, at, took) in done.Results)
        {
            if (outcome.Drift is not null || outcome.Error is not null)
            {
                State.RecordRepair(new MirrorRepair(spec.Name, Site.Name, at, done.Trigger, outcome.Drift ?? "", took, outcome.Error));
                Log.Info("Site {0}: {1} repair of {2} in {3:0.0} ms: {4} {5}", Site.Name, done.Trigger, spec.Name, took.TotalMilliseconds, outcome.Drift, outcome.Error);
            }

            if (State.Sessions.ContainsKey(spec.Name))
            {
                if (outcome.Error is null)
                {
                    State.SetBackendSessions(spec.Name, outcome.BackendSessions);
                }

                State.SetStatus(spec.Name, outcome.Error is null ? outcome.Health : MirrorHealth.Failed, outcome.Error ?? outcome.Reason);
            }
        }

        foreach (var removed in done.Removed)
        {
            Log.Info("Site {0}: removed {1} (no longer assigned)", Site.Name, removed);
        }

        if (done.RemoveError is not null)
        {
            Log.Warning("Site {0}: removing what Fabric made for sessions no longer assigned failed: {1}", Site.Name, done.RemoveError);
        }

        if (done.Unreachable is not null)
        {
            Unreachable(done.Unreachable);
            return;
        }

        if (!State.Connected)
        {
            Log.Info("Site {0}: backend reachable again", Site.Name);
        }

        State.ConnectionProblem = null;
        _backoff.Reset();
        if (_pendingTrigger is { } next)
        {
            _pendingTrigger = null;
            Start(next);
        }
    }

    private void Unreachable(string problem)
    {
        var delay = _backoff.Next();
        if (State.ConnectionProblem != problem)
        {
            Log.Warning("Site {0}: backend unreachable: {1}; retrying in {2}", Site.Name, problem, delay);
        }

        State.ConnectionProblem = problem;
        State.SetAllUnknown(problem);
        _pendingTrigger = null;
        Timers.StartSingleTimer("retry", new Cycle("resync"), delay);
    }

    private sealed record Cycle(string Trigger);

    private sealed record CycleDone(
        string Trigger,
        IReadOnlyList<(MirrorSessionSpec Spec, MirrorBackendOutcome Outcome, DateTimeOffset At, TimeSpan Took)> Results,
        IReadOnlyList<string> Removed,
        string? Unreachable)
    {
        public string? RemoveError { get; init; }
    }
}
