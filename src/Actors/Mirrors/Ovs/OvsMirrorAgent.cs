using System.Diagnostics;
using System.Text.Json.Nodes;
using Akka.Actor;
using Akka.Event;
using Fabric.Actors.Mirrors.Backends;
using Fabric.Protocols.Ovsdb;

namespace Fabric.Actors.Mirrors.Ovs;

/// <summary>
/// The agent of one <c>ovs</c> site: keeps a monitor_cond replica of Bridge, Port, Interface and
/// Mirror and, on every update (a port re-added with a new UUID, the output port gone, a Mirror
/// row removed or altered, the whole database reset), re-plans the affected sessions and repairs
/// each in one atomic transaction. A periodic audit re-plans everything as a safety net. Holds
/// its sessions while the supervisor moves; reports statuses and repairs to <c>reportTo</c>.
/// </summary>
public sealed class OvsMirrorAgent : MirrorAgent
{
    /// <summary>Tables and columns the agent monitors.</summary>
    internal static readonly JsonObject MonitorRequests = new()
    {
        ["Bridge"] = new JsonArray(new JsonObject { ["columns"] = new JsonArray("name", "ports", "mirrors") }),
        ["Port"] = new JsonArray(new JsonObject { ["columns"] = new JsonArray("name", "interfaces") }),
        ["Interface"] = new JsonArray(new JsonObject { ["columns"] = new JsonArray("name", "error", "ofport") }),
        ["Mirror"] = new JsonArray(new JsonObject
        {
            ["columns"] = new JsonArray("name", "select_all", "select_src_port", "select_dst_port", "select_vlan", "output_port", "output_vlan", "snaplen", "external_ids"),
        }),
    };

    /// <summary>
    /// Updates that may wait in this actor's mailbox: a server flooding faster than the agent applies
    /// them loses the connection (the session resynchronises from a fresh snapshot), so the mailbox
    /// stays bounded (docs/reliability-hostile.md).
    /// </summary>
    internal const int MaxPendingUpdates = 4096;

    private static readonly TimeSpan InsertConfirmTimeout = TimeSpan.FromSeconds(2);
    private readonly Dictionary<string, InFlight> _inFlight = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (Guid Uuid, long Deadline)> _awaitingInsert = new(StringComparer.Ordinal);
    private readonly HashSet<string> _orphansInFlight = new(StringComparer.Ordinal);
    private OvsdbSession? _ovsdb;
    private OvsdbReplica? _replica;
    private bool _resynced;

    public OvsMirrorAgent(MirrorSiteSettings site, MirrorSettings settings, IActorRef reportTo, MirrorMetrics? metrics)
        : base(site, settings, reportTo, metrics)
    {
        Receive<OvsdbSnapshot>(HandleSnapshot);
        Receive<OvsdbUpdate>(HandleUpdate);
        Receive<OvsdbDown>(HandleDown);
        Receive<TransactionDone>(HandleTransactionDone);
        Receive<OrphanRemoved>(m =>
        {
            _orphansInFlight.Remove(m.Session);
            if (m.Error is not null)
            {
                Log.Warning("Site {0}: removing the mirror of undefined session {1} failed: {2}", Site.Name, m.Session, m.Error);
            }
        });
    }

    public static Props Props(MirrorSiteSettings site, MirrorSettings settings, IActorRef reportTo, MirrorMetrics? metrics = null) =>
        Akka.Actor.Props.Create(() => new OvsMirrorAgent(site, settings, reportTo, metrics));

    protected override void OnStart()
    {
        var listener = new Listener(Self);
        _ovsdb = new OvsdbSession(
            OvsdbSiteSettings.Of(Site),
            new OvsdbSessionOptions
            {
                MonitorRequests = MonitorRequests,
                MinBackoff = Settings.ReconnectMinBackoff,
                MaxBackoff = Settings.ReconnectMaxBackoff,
                MaxPendingUpdates = MaxPendingUpdates,
            },
            listener);
        listener.Session = _ovsdb;
        _ovsdb.Start();
    }

    protected override void OnAudit() => Reconcile("audit", DateTimeOffset.UtcNow, Stopwatch.GetTimestamp());

    protected override void PostStop()
    {
        var session = _ovsdb;
        _ovsdb = null;
        if (session is not null)
        {
            _ = session.DisposeAsync().AsTask();
        }
    }

    protected override void OnAssigned(IReadOnlyList<string> dropped)
    {
        foreach (var spec in State.Sessions.Values)
        {
            if (State.StatusOf(spec.Name) is null)
            {
                State.SetStatus(spec.Name, State.Connected ? MirrorHealth.Repairing : MirrorHealth.Unknown, State.Connected ? "being applied" : "site unreachable: " + State.ConnectionProblem);
            }
        }

        Reconcile("assigned", DateTimeOffset.UtcNow, Stopwatch.GetTimestamp());
    }

    private void HandleSnapshot(OvsdbSnapshot snapshot)
    {
        _replica = new OvsdbReplica(snapshot.Schema);
        _replica.Apply(snapshot.Initial);
        State.ConnectionProblem = null;
        _awaitingInsert.Clear();
        Log.Info("Site {0}: connected to {1}, {2} mirror rows", Site.Name, OvsdbSiteSettings.Of(Site), _replica.Table("Mirror").Count);
        Reconcile(_resynced ? "resync" : "connected", snapshot.ReceivedAt, snapshot.Timestamp);
        _resynced = true;
    }

    private void HandleUpdate(OvsdbUpdate update)
    {
        update.From?.UpdateApplied();
        if (_replica is null)
        {
            return;
        }

        _replica.Apply(update.Update);
        Reconcile("event", update.ReceivedAt, update.Timestamp);
    }

    private void HandleDown(OvsdbDown down)
    {
        _replica = null;
        State.ConnectionProblem = $"{OvsdbSiteSettings.Of(Site)}: {down.Reason}";
        Log.Warning("Site {0}: OVSDB connection down ({1}); retrying in {2}", Site.Name, down.Reason, down.RetryIn);
        State.SetAllUnknown(State.ConnectionProblem);
    }

    protected override void OnRepairNow(RepairSessionNow request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!State.Sessions.TryGetValue(request.Session, out var spec))
        {
            Sender.Tell(new RepairSessionResult(request.Session, false, null, null));
            return;
        }

        if (_replica is null)
        {
            Sender.Tell(new RepairSessionResult(request.Session, true, null, State.StatusOf(request.Session)));
            return;
        }

        _awaitingInsert.Remove(request.Session);
        var plan = OvsMirrorPlanner.Plan(_replica, [spec])[0];
        if (!_inFlight.ContainsKey(spec.Name))
        {
            Apply(plan, "manual", DateTimeOffset.UtcNow, Stopwatch.GetTimestamp());
        }

        Sender.Tell(new RepairSessionResult(request.Session, true, plan.Drift, State.StatusOf(request.Session)));
    }

    private void Reconcile(string trigger, DateTimeOffset detectedAt, long timestamp)
    {
        if (_replica is null || _ovsdb is null)
        {
            return;
        }

        // An insert is no longer awaited once its row is in the replica, or past its deadline.
        var mirrors = _replica.Table("Mirror");
        foreach (var (name, awaiting) in _awaitingInsert.ToArray())
        {
            if (mirrors.ContainsKey(awaiting.Uuid) || Stopwatch.GetTimestamp() > awaiting.Deadline)
            {
                _awaitingInsert.Remove(name);
            }
        }

        var candidates = State.Sessions.Values.Where(s => !_inFlight.ContainsKey(s.Name) && !_awaitingInsert.ContainsKey(s.Name));
        foreach (var plan in OvsMirrorPlanner.Plan(_replica, candidates))
        {
            Apply(plan, trigger, detectedAt, timestamp);
        }

        if (State.Assigned)
        {
            foreach (var (session, op) in OvsMirrorPlanner.PlanOrphans(_replica, State.Sessions.Keys.ToHashSet(StringComparer.Ordinal)))
            {
                if (_orphansInFlight.Add(session))
                {
                    Log.Info("Site {0}: removing mirror of session {1} (no longer defined)", Site.Name, session);
                    _ovsdb.TransactAsync([op]).ContinueWith(
                        t => (object)new OrphanRemoved(session, t.Exception?.GetBaseException().Message),
                        CancellationToken.None,
                        TaskContinuationOptions.ExecuteSynchronously,
                        TaskScheduler.Default).PipeTo(Self);
                }
            }
        }
    }

    private void Apply(OvsSessionPlan plan, string trigger, DateTimeOffset detectedAt, long timestamp)
    {
        var name = plan.Session.Name;
        if (plan.Operations.Count == 0)
        {
            State.SetStatus(name, plan.Health, plan.Reason);
            return;
        }

        _inFlight[name] = new InFlight(plan, trigger, detectedAt, timestamp);
        State.SetStatus(name, MirrorHealth.Repairing, plan.Drift);
        var ops = new List<JsonObject>(plan.Operations.Count + 1) { OvsdbJson.Comment($"fabric: {trigger} repair of mirror session {name}") };
        ops.AddRange(plan.Operations);
        Task<JsonArray> transaction;
        try
        {
            transaction = _ovsdb!.TransactAsync(ops);
        }
        catch (OvsdbConnectionException ex)
        {
            transaction = Task.FromException<JsonArray>(ex);
        }

        transaction.ContinueWith(
            t => new TransactionDone(name, t.IsCompletedSuccessfully ? t.Result : null, t.Exception?.GetBaseException()),
            CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default).PipeTo(Self);
    }

    private void HandleTransactionDone(TransactionDone done)
    {
        if (!_inFlight.Remove(done.Session, out var flight))
        {
            return;
        }

        var elapsed = Stopwatch.GetElapsedTime(flight.Timestamp);
        var plan = flight.Plan;
        if (done.Error is { } error)
        {
            var message = error is OvsdbException ? error.Message : $"{error.GetType().Name}: {error.Message}";
            Log.Warning("Site {0}: repair of {1} failed after {2} ms: {3}", Site.Name, done.Session, elapsed.TotalMilliseconds, message);
            State.RecordRepair(new MirrorRepair(done.Session, Site.Name, flight.DetectedAt, flight.Trigger, plan.Drift ?? "", elapsed, message));
            if (State.Sessions.ContainsKey(done.Session))
            {
                State.SetStatus(done.Session, error is OvsdbConnectionException ? MirrorHealth.Unknown : MirrorHealth.Failed, message);
            }

            return;
        }

        // The transaction result starts with the comment; the insert (if any) follows.
        if (plan.InsertedName is not null && done.Results is { } results)
        {
            var uuid = results.Select(r => OvsdbJson.UuidOf(r?["uuid"])).FirstOrDefault(g => g != Guid.Empty);
            if (uuid != Guid.Empty && _replica is not null && !_replica.Table("Mirror").ContainsKey(uuid))
            {
                _awaitingInsert[done.Session] = (uuid, Stopwatch.GetTimestamp() + (long)(InsertConfirmTimeout.TotalSeconds * Stopwatch.Frequency));
            }
        }

        Log.Info("Site {0}: {1} repair of {2} in {3:0.0} ms: {4}", Site.Name, flight.Trigger, done.Session, elapsed.TotalMilliseconds, plan.Drift);
        State.RecordRepair(new MirrorRepair(done.Session, Site.Name, flight.DetectedAt, flight.Trigger, plan.Drift ?? "", elapsed, null));
        if (State.Sessions.ContainsKey(done.Session))
        {
            State.SetStatus(done.Session, plan.Health, plan.Reason);
        }

        // Anything that changed while the transaction was in flight was skipped for this session.
        Reconcile("event", DateTimeOffset.UtcNow, Stopwatch.GetTimestamp());
    }

    private sealed record InFlight(OvsSessionPlan Plan, string Trigger, DateTimeOffset DetectedAt, long Timestamp);

    private sealed record OvsdbSnapshot(OvsdbSchema Schema, JsonObject Initial, DateTimeOffset ReceivedAt, long Timestamp);

    private sealed record OvsdbUpdate(JsonObject Update, DateTimeOffset ReceivedAt, long Timestamp, OvsdbSession? From);

    private sealed record OvsdbDown(string Reason, TimeSpan RetryIn);

    private sealed record TransactionDone(string Session, JsonArray? Results, Exception? Error);

    private sealed record OrphanRemoved(string Session, string? Error);

    /// <summary>Turns the session's callbacks (reader loop) into messages, stamped when they arrived.</summary>
    private sealed class Listener(IActorRef agent) : IOvsdbSessionListener
    {
        /// <summary>The session whose updates these are (acknowledged when applied).</summary>
        public OvsdbSession? Session { get; set; }

        public void OnSnapshot(OvsdbSchema schema, JsonObject initial) =>
            agent.Tell(new OvsdbSnapshot(schema, initial, DateTimeOffset.UtcNow, Stopwatch.GetTimestamp()));

        public void OnUpdate(JsonObject update) =>
            agent.Tell(new OvsdbUpdate(update, DateTimeOffset.UtcNow, Stopwatch.GetTimestamp(), Session));

        public void OnDisconnected(string reason, TimeSpan retryIn) => agent.Tell(new OvsdbDown(reason, retryIn));
    }
}
