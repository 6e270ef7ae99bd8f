using System.Collections.Immutable;
using Akka.Actor;

namespace Fabric.Actors.Mirrors;

/// <summary>
/// What every site agent (ovs or tc) keeps: the desired sessions (kept while the supervisor
/// moves), each session's status, repair counts and the recent repairs; it tells the supervisor
/// (<c>reportTo</c>) about every change. Owned by the agent actor; not thread-safe.
/// </summary>
internal sealed class MirrorAgentState
{
    private const int RecentRepairs = 100;
    private readonly string _site;
    private readonly IActorRef _reportTo;
    private readonly IActorRef _self;
    private readonly MirrorMetrics? _metrics;
    private readonly Dictionary<string, MirrorSessionStatus> _statuses = new(StringComparer.Ordinal);
    private readonly LinkedList<MirrorRepair> _recent = new();
    private readonly Dictionary<string, ImmutableArray<MirrorBackendSession>> _backendSessions = new(StringComparer.Ordinal);

    public MirrorAgentState(string site, IActorRef reportTo, IActorRef self, MirrorMetrics? metrics)
    {
        _site = site;
        _reportTo = reportTo;
        _self = self;
        _metrics = metrics;
    }

    public Dictionary<string, MirrorSessionSpec> Sessions { get; } = new(StringComparer.Ordinal);

    /// <summary>Version of the last assignment (0: none yet, nothing of Fabric's may be removed).</summary>
    public long Version { get; private set; }

    public bool Assigned => Version > 0;

    public string? ConnectionProblem { get; set; } = "not connected yet";

    public bool Connected => ConnectionProblem is null;

    /// <summary>Replaces the desired sessions; returns the names that were dropped.</summary>
    public IReadOnlyList<string> Assign(AssignSessions assign, Func<MirrorSessionSpec, bool> accept)
    {
        var dropped = Sessions.Keys.Where(k => !assign.Sessions.Any(s => s.Name == k)).ToList();
        Sessions.Clear();
        foreach (var s in assign.Sessions.Where(accept))
        {
            Sessions[s.Name] = s;
        }

        foreach (var name in dropped)
        {
            _statuses.Remove(name);
            _backendSessions.Remove(name);
            _metrics?.Remove(_site, name);
        }

        Version = assign.Version;
        return dropped;
    }

    public MirrorSessionStatus? StatusOf(string name) => _statuses.GetValueOrDefault(name);

    /// <summary>What the backend holds for <paramref name="name"/> as last read (polled backends); reported to the supervisor.</summary>
    public void SetBackendSessions(string name, ImmutableArray<MirrorBackendSession> sessions)
    {
        if (Sessions.ContainsKey(name))
        {
            _backendSessions[name] = sessions.IsDefault ? [] : sessions;
        }
    }

    private ImmutableArray<MirrorBackendSession> BackendSessions() =>
        [.. _backendSessions.Where(b => Sessions.ContainsKey(b.Key)).OrderBy(b => b.Key, StringComparer.Ordinal).SelectMany(b => b.Value)];

    /// <summary>Sets a status; tells the supervisor when health or reason changed.</summary>
    public MirrorSessionStatus SetStatus(string name, MirrorHealth health, string? reason)
    {
        var old = _statuses.GetValueOrDefault(name);
        if (old is not null && old.Health == health && old.Reason == reason)
        {
            return old;
        }

        var status = new MirrorSessionStatus(name, health, reason, DateTimeOffset.UtcNow, old?.RepairCount ?? 0, old?.LastRepairAt);
        _statuses[name] = status;
        _metrics?.SetHealth(_site, name, health);
        _reportTo.Tell(new SessionStatusChanged(_site, status), _self);
        return status;
    }

    /// <summary>Every known session becomes <see cref="MirrorHealth.Unknown"/> (backend unreachable).</summary>
    public void SetAllUnknown(string reason)
    {
        foreach (var name in Sessions.Keys)
        {
            SetStatus(name, Sessions[name].Enabled ? MirrorHealth.Unknown : MirrorHealth.Disabled, Sessions[name].Enabled ? "site unreachable: " + reason : null);
        }
    }

    /// <summary>Records a repair: counts it, keeps it in the recent list, tells the supervisor.</summary>
    public void RecordRepair(MirrorRepair repair)
    {
        _recent.AddLast(repair);
        if (_recent.Count > RecentRepairs)
        {
            _recent.RemoveFirst();
        }

        if (_statuses.TryGetValue(repair.Session, out var status))
        {
            _statuses[repair.Session] = status with { RepairCount = status.RepairCount + 1, LastRepairAt = repair.DetectedAt + repair.Duration };
        }

        _metrics?.RecordRepair(_site, repair.Session, repair.Duration, repair.Error is null);
        _reportTo.Tell(new RepairRecorded(repair), _self);
    }

    /// <summary>Repairs repeated in every report (the supervisor journals each once).</summary>
    /// <remarks>
    /// A repair reaches the supervisor twice on purpose: <see cref="RepairRecorded"/> at once (the
    /// history shows it without waiting for a report), and again in each <see cref="AgentReport"/>
    /// while it is among the last <see cref="ReportedRepairs"/>, because a message sent while the
    /// supervisor singleton moves is lost: the repetition makes the delivery at-least-once, and the
    /// supervisor journals each <see cref="MirrorRepair.Id"/> once. Statuses go the same two ways
    /// (<see cref="SessionStatusChanged"/> at once, every status in each report).
    /// </remarks>
    private const int ReportedRepairs = 20;

    public AgentReport Report() => new(
        _site,
        Version,
        Connected,
        ConnectionProblem,
        [.. _statuses.Values.OrderBy(s => s.Name, StringComparer.Ordinal)],
        [.. _recent.Skip(Math.Max(0, _recent.Count - ReportedRepairs))],
        BackendSessions());

    public AgentState State() => new(_site, Connected, ConnectionProblem, Version, [.. _statuses.Values.OrderBy(s => s.Name, StringComparer.Ordinal)], [.. _recent], BackendSessions());
}
