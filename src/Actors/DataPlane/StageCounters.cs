using System.Collections.Immutable;

namespace Fabric.Actors.DataPlane;

/// <summary>
/// Packets and bytes in, out and dropped by named reason for one stage of one pipeline. Updated once per batch
/// (never per packet) with interlocked adds, so the producer of a hand-off may count its "queue-full" drops
/// into the consumer's counters. The stage law: <c>in = out + Σ dropped</c>.
/// </summary>
public sealed class StageCounters
{
    private readonly long[] _droppedPackets;
    private readonly long[] _droppedBytes;
    private readonly long[] _events;
    private long _packetsIn;
    private long _bytesIn;
    private long _packetsOut;
    private long _bytesOut;

    /// <param name="stage">Stage name.</param>
    /// <param name="reasons">Drop reasons.</param>
    /// <param name="events">Other things the stage counts that are not drops (truncated, fragmented, re-created...).</param>
    public StageCounters(string stage, IReadOnlyList<string> reasons, IReadOnlyList<string>? events = null)
    {
        Stage = stage;
        Reasons = [.. reasons];
        Events = [.. events ?? []];
        _droppedPackets = new long[Reasons.Length];
        _droppedBytes = new long[Reasons.Length];
        _events = new long[Events.Length];
    }

    /// <summary>Stages inside this one, each with its own counters (a balance sink's members); in stats under
    /// this stage's <see cref="StageSnapshot.Members"/>, not beside it, since each sees only a share.</summary>
    public IReadOnlyList<StageCounters> Members { get; init; } = [];

    /// <summary>Names of the stage's event counters, in index order.</summary>
    public ImmutableArray<string> Events { get; }

    public int EventIndex(string name) => IndexOf(Events, name, "event counter", nameof(name));

    public void AddEvent(int index, long count)
    {
        if (count != 0)
        {
            Interlocked.Add(ref _events[index], count);
        }
    }

    /// <summary>Stage name as it appears in stats and metric labels: capture, decap, tap-mon0, pcap-1...</summary>
    public string Stage { get; }

    /// <summary>Drop reasons of this stage, in index order.</summary>
    public ImmutableArray<string> Reasons { get; }

    public int ReasonIndex(string reason) => IndexOf(Reasons, reason, "drop reason", nameof(reason));

    private int IndexOf(ImmutableArray<string> names, string name, string what, string parameter)
    {
        int index = names.IndexOf(name);
        return index >= 0 ? index : throw new ArgumentException($"Stage {Stage} has no {what} '{name}'.", parameter);
    }

    public void AddIn(long packets, long bytes)
    {
        Interlocked.Add(ref _packetsIn, packets);
        Interlocked.Add(ref _bytesIn, bytes);
    }

    public void AddOut(long packets, long bytes)
    {
        Interlocked.Add(ref _packetsOut, packets);
        Interlocked.Add(ref _bytesOut, bytes);
    }

    public void AddDropped(int reason, long packets, long bytes)
    {
        if (packets == 0)
        {
            return;
        }

        Interlocked.Add(ref _droppedPackets[reason], packets);
        Interlocked.Add(ref _droppedBytes[reason], bytes);
    }

    public StageSnapshot Snapshot()
    {
        var dropped = ImmutableDictionary.CreateBuilder<string, Count>(StringComparer.Ordinal);
        for (int i = 0; i < Reasons.Length; i++)
        {
            dropped[Reasons[i]] = new Count(Interlocked.Read(ref _droppedPackets[i]), Interlocked.Read(ref _droppedBytes[i]));
        }

        var events = ImmutableDictionary.CreateBuilder<string, long>(StringComparer.Ordinal);
        for (int i = 0; i < Events.Length; i++)
        {
            events[Events[i]] = Interlocked.Read(ref _events[i]);
        }

        return new StageSnapshot(
            Stage,
            new Count(Interlocked.Read(ref _packetsIn), Interlocked.Read(ref _bytesIn)),
            new Count(Interlocked.Read(ref _packetsOut), Interlocked.Read(ref _bytesOut)),
            dropped.ToImmutable(),
            events.ToImmutable(),
            Members.Count == 0 ? null : [.. Members.Select(m => m.Snapshot())]);
    }
}

/// <summary>A number of packets and their bytes.</summary>
public readonly record struct Count(long Packets, long Bytes);

/// <summary>The counters of one stage at one moment; <paramref name="Members"/>: the stages inside it (a balance
/// sink's member sinks), null when it has none.</summary>
public sealed record StageSnapshot(string Stage, Count In, Count Out, ImmutableDictionary<string, Count> Dropped,
    ImmutableDictionary<string, long> Events, IReadOnlyList<StageSnapshot>? Members = null)
{
    public long DroppedPackets => Dropped.Values.Sum(c => c.Packets);

    /// <summary>True when every packet that came in went out or was dropped for a named reason.</summary>
    public bool Balanced => In.Packets == Out.Packets + DroppedPackets;
}
