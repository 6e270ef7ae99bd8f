namespace Fabric.Actors.Sinks;

/// <summary>One entry of a pipeline's <c>sinks</c> list.</summary>
public abstract record SinkSettings
{
    /// <summary>Stage name in stats and metrics: <c>tap-mon0</c>, <c>pcap-1</c>, <c>forward-2</c>.</summary>
    public required string Stage { get; init; }
}
