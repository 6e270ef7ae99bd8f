namespace Fabric.Actors.Mirrors.Backends;

/// <summary>
/// A backend whose state an agent polls and reconciles (RESTCONF, EC2): it compares one session
/// with what the backend holds and changes what differs; it removes what Fabric created for
/// sessions no longer assigned. It throws <see cref="MirrorBackendUnreachableException"/> when it
/// cannot reach the backend at all; any other exception is a refused change.
/// </summary>
public interface IMirrorBackend : IDisposable
{
    /// <summary>Whether this backend applies <paramref name="spec"/> (its backend kind).</summary>
    bool Accepts(MirrorSessionSpec spec);

    Task<MirrorBackendOutcome> ReconcileAsync(MirrorSessionSpec spec, CancellationToken cancellationToken);

    /// <summary>Removes what Fabric created for sessions not in <paramref name="assigned"/>; returns what was removed (for the log).</summary>
    Task<IReadOnlyList<string>> RemoveOrphansAsync(IReadOnlySet<string> assigned, CancellationToken cancellationToken);
}

/// <summary>
/// The result of reconciling one session: its health, the reason, what was found different and
/// changed (<paramref name="Drift"/>, null when in sync) and the error if the change was refused.
/// </summary>
public sealed record MirrorBackendOutcome(MirrorHealth Health, string? Reason, string? Drift, string? Error)
{
    /// <summary>The backend's sessions of this Fabric session after reconciling (aws: one per mirrored ENI); empty when the backend has none to show.</summary>
    public System.Collections.Immutable.ImmutableArray<MirrorBackendSession> BackendSessions { get; init; } = [];

    public static MirrorBackendOutcome InSync { get; } = new(MirrorHealth.Healthy, null, null, null);
}

/// <summary>The backend could not be reached (connection, TLS, timeout): sessions become <c>unknown</c>.</summary>
public sealed class MirrorBackendUnreachableException : Exception
{
    public MirrorBackendUnreachableException()
    {
    }

    public MirrorBackendUnreachableException(string message)
        : base(message)
    {
    }

    public MirrorBackendUnreachableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
