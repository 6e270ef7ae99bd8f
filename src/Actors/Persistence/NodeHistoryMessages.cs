namespace Fabric.Actors.Persistence;

/// <summary>Event: this node started (persisted once per start).</summary>
public sealed record NodeStarted(DateTimeOffset At, string Version) : IFabricMessage;

/// <summary>Command: record a start of this node; replies with the <see cref="NodeHistory"/> after it is persisted.</summary>
public sealed record RecordNodeStart(DateTimeOffset At, string Version) : IFabricMessage;

/// <summary>Query: replies with the current <see cref="NodeHistory"/>.</summary>
public sealed record GetNodeHistory : IFabricMessage
{
    public static readonly GetNodeHistory Instance = new();

    private GetNodeHistory()
    {
    }
}

/// <summary>How often and when this node started, as persisted in the journal (survives restarts).</summary>
public sealed record NodeHistory(long Starts, DateTimeOffset? FirstStarted, DateTimeOffset? LastStarted, string? LastVersion) : IFabricMessage
{
    public static readonly NodeHistory Empty = new(0, null, null, null);

    /// <summary>The history after <paramref name="started"/>.</summary>
    public NodeHistory Apply(NodeStarted started)
    {
        ArgumentNullException.ThrowIfNull(started);
        return new NodeHistory(Starts + 1, FirstStarted ?? started.At, started.At, started.Version);
    }
}
