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
/// backend is reachable, and every session's status. A supervisor that sees another version (or
/// that just moved) answers with <see cref="AssignSessions"/>.
/// </summary>
public sealed record AgentReport(string Site, long Version, bool Connected, string? ConnectionProblem, ImmutableArray<MirrorSessionStatus> Statuses) : IFabricMessage;

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
    ImmutableArray<MirrorRepair> RecentRepairs) : IFabricMessage;

/// <summary>Asks an agent to reconcile one session now (<c>fabric mirrors repair NAME</c>).</summary>
public sealed record RepairSessionNow(string Session) : IFabricMessage;

/// <summary>Answer to <see cref="RepairSessionNow"/>: what was found (null: in sync) and the status after planning.</summary>
public sealed record RepairSessionResult(string Session, bool Known, string? Drift, MirrorSessionStatus? Status) : IFabricMessage;
