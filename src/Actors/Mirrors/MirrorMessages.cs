using System.Collections.Immutable;

namespace Fabric.Actors.Mirrors;

// Messages between the MirrorSupervisor (singleton, role `supervisor`), the site agents (one
// singleton per site, role `site-<name>`) and the management routes. All cross nodes.

/// <summary>Supervisor → agent: the full set of sessions the site must hold (replaces the previous set).</summary>
public sealed record AssignSessions(string Site, long Version, ImmutableArray<MirrorSessionSpec> Sessions) : IFabricMessage;

/// <summary>Agent → supervisor: a session's status changed.</summary>
public sealed record SessionStatusChanged(string Site, MirrorSessionStatus Status) : IFabricMessage;

/// <summary>Agent → supervisor: a repair (or first application) was made or failed.</summary>
public sealed record RepairRecorded(MirrorRepair Repair) : IFabricMessage;

/// <summary>
/// Agent → supervisor, every report interval: which assignment the agent holds, whether its
/// backend is reachable, every session's status, and its most recent repairs (again: a
/// <see cref="RepairRecorded"/> sent while the supervisor was moving is lost, the supervisor
/// journals each repair once). A supervisor that sees another version (or that just moved)
/// answers with <see cref="AssignSessions"/>.
/// </summary>
public sealed record AgentReport(
    string Site,
    long Version,
    bool Connected,
    string? ConnectionProblem,
    ImmutableArray<MirrorSessionStatus> Statuses,
    ImmutableArray<MirrorRepair> RecentRepairs,
    ImmutableArray<MirrorBackendSession> BackendSessions = default) : IFabricMessage;

/// <summary>Asks the agent for <see cref="AgentState"/>.</summary>
public sealed record GetAgentState : IFabricMessage
{
    public static GetAgentState Instance { get; } = new();
}

/// <summary>An agent's view: connection, assignment, statuses and its most recent repairs.</summary>
public sealed record AgentState(
    string Site,
    bool Connected,
    string? ConnectionProblem,
    long Version,
    ImmutableArray<MirrorSessionStatus> Statuses,
    ImmutableArray<MirrorRepair> RecentRepairs,
    ImmutableArray<MirrorBackendSession> BackendSessions = default) : IFabricMessage;

/// <summary>Asks an agent to reconcile one session now (<c>fabric mirrors repair NAME</c>).</summary>
public sealed record RepairSessionNow(string Session) : IFabricMessage;

/// <summary>Answer to <see cref="RepairSessionNow"/>: what was found (null: in sync) and the status after planning.</summary>
public sealed record RepairSessionResult(string Session, bool Known, string? Drift, MirrorSessionStatus? Status) : IFabricMessage;

// ---- Supervisor commands (console / management routes → supervisor singleton proxy) ----

/// <summary>Defines or changes a session (idempotent: the same spec again changes nothing).</summary>
public sealed record DefineMirrorSession(MirrorSessionSpec Spec) : IFabricMessage;

/// <summary>Removes a session (idempotent: removing an unknown session is not an error).</summary>
public sealed record RemoveMirrorSession(string Name) : IFabricMessage;

/// <summary>Answer to define/remove: whether it was accepted, whether anything changed, and a one-line message.</summary>
public sealed record MirrorCommandResult(bool Ok, bool Changed, string Message) : IFabricMessage
{
    /// <summary>
    /// Refused (or not confirmed) because the supervisor's journal is unavailable: nothing was
    /// changed; the same command may be sent again once the journal is back (HTTP 503).
    /// </summary>
    public bool JournalUnavailable { get; init; }
}

/// <summary>
/// The supervisor's journal as the supervisor sees it. <paramref name="Available"/>: the last
/// write or recovery succeeded; <paramref name="Recovered"/>: the supervisor's state was read from
/// the journal at least once since it started (before that it knows no sessions);
/// <paramref name="Pending"/>: events (repairs, observed statuses) kept in memory until the journal
/// takes them; <paramref name="Failures"/>: journal failures since the supervisor started.
/// </summary>
public sealed record MirrorJournalStatus(
    bool Available,
    bool Recovered,
    DateTimeOffset? UnavailableSince,
    string? Problem,
    int Pending,
    long Failures,
    DateTimeOffset? LastRecoveredAt) : IFabricMessage;

/// <summary>Answer to a query the supervisor cannot answer yet: its state was never read from the journal since it started.</summary>
public sealed record MirrorSupervisorUnavailable(string Reason, MirrorJournalStatus Journal) : IFabricMessage;

/// <summary>Asks for every session with its status.</summary>
public sealed record ListMirrorSessions : IFabricMessage
{
    public static ListMirrorSessions Instance { get; } = new();
}

/// <summary>A session as the supervisor knows it; <paramref name="BackendSessions"/>: what its agent last reported the backend holds for it (aws: a session per ENI; default/empty for other backends).</summary>
public sealed record MirrorSessionView(MirrorSessionSpec Spec, MirrorSessionStatus Status, long RepairCount, MirrorRepair? LastRepair,
    ImmutableArray<MirrorBackendSession> BackendSessions = default) : IFabricMessage;

/// <summary>Answer to <see cref="ListMirrorSessions"/>, with the state of the supervisor's journal.</summary>
public sealed record MirrorSessionList(ImmutableArray<MirrorSessionView> Sessions, MirrorJournalStatus? Journal = null) : IFabricMessage;

/// <summary>Asks for one session.</summary>
public sealed record GetMirrorSession(string Name) : IFabricMessage;

/// <summary>Answer to <see cref="GetMirrorSession"/> (View is null when there is no such session).</summary>
public sealed record MirrorSessionDetail(string Name, MirrorSessionView? View) : IFabricMessage;

/// <summary>Asks for a session's history (newest last, at most <paramref name="Limit"/> entries).</summary>
public sealed record GetMirrorHistory(string Name, int Limit) : IFabricMessage;

/// <summary>One entry of a session's audit trail.</summary>
/// <param name="Kind"><c>defined</c>, <c>removed</c>, <c>observed</c> (status change) or <c>repair</c>.</param>
public sealed record MirrorHistoryEntry(string Session, DateTimeOffset At, string Kind, string Text, MirrorRepair? Repair) : IFabricMessage;

/// <summary>Answer to <see cref="GetMirrorHistory"/>.</summary>
public sealed record MirrorHistory(string Name, bool Known, ImmutableArray<MirrorHistoryEntry> Entries) : IFabricMessage;

/// <summary>Asks the session's site agent to reconcile it now; answered with <see cref="RepairSessionResult"/>.</summary>
public sealed record RepairMirrorSession(string Name) : IFabricMessage;

// ---- Supervisor journal (events and snapshot) ----

/// <summary>Event: a session was defined or changed (<paramref name="Origin"/>: <c>config</c> or <c>console</c>).</summary>
public sealed record MirrorSessionDefined(MirrorSessionSpec Spec, string Origin, DateTimeOffset At) : IFabricMessage;

/// <summary>Event: a session was removed.</summary>
public sealed record MirrorSessionRemoved(string Name, string Origin, DateTimeOffset At) : IFabricMessage;

/// <summary>Event: an agent reported a repair.</summary>
public sealed record MirrorRepairLogged(MirrorRepair Repair) : IFabricMessage;

/// <summary>Event: a session's observed status changed.</summary>
public sealed record MirrorSessionObserved(string Site, MirrorSessionStatus Status) : IFabricMessage;

/// <summary>
/// Snapshot of the supervisor's state (<paramref name="KnownRepairs"/>: the ids of the most
/// recently journaled repairs, oldest first; <paramref name="Observed"/>: the last settled status
/// journaled per session).
/// </summary>
public sealed record MirrorSupervisorSnapshot(
    ImmutableArray<MirrorSessionSpec> Sessions,
    ImmutableDictionary<string, long> SiteVersions,
    ImmutableDictionary<string, long> RepairCounts,
    ImmutableArray<MirrorHistoryEntry> History,
    ImmutableArray<Guid> KnownRepairs,
    ImmutableArray<MirrorSessionStatus> Observed) : IFabricMessage;
