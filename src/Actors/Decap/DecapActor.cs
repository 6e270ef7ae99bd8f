using Akka.Actor;
using Fabric.Actors.DataPlane;
using Fabric.Protocols.Decap;

namespace Fabric.Actors.Decap;

/// <summary>What the decap stage of a pipeline does besides decapsulating.</summary>
public sealed record DecapStageSettings
{
    public DecapOptions Options { get; init; } = new();

    /// <summary>BPF on the inner frames; null: none.</summary>
    public string? Filter { get; init; }

    /// <summary>Dedup window; null: no dedup.</summary>
    public TimeSpan? DedupWindow { get; init; }

    public int DedupEntries { get; init; } = 65536;

    /// <summary>Frames longer than this are cut to it (original length kept); 0: no slicing.</summary>
    public int SnapLength { get; init; }

    /// <summary>CPU the stage's own thread is pinned to (the actor then runs on a pinned dispatcher); null: not pinned.</summary>
    public int? Cpu { get; init; }

    /// <summary>The pipeline's <c>nice</c> for the stage's own thread (the actor then runs on a pinned
    /// dispatcher); null: left alone.</summary>
    public ThreadNice? Nice { get; init; }

    /// <summary>VNIs counted one by one (first seen), besides <see cref="AllowedVnis"/>; 0 with no allowed VNIs: no per-VNI counting.</summary>
    public int VniCounters { get; init; } = 64;

    /// <summary>When not empty, frames whose VNI is not in it are dropped as "vni-not-allowed" (frames without a VNI are not affected).</summary>
    public IReadOnlyList<int> AllowedVnis { get; init; } = [];

    /// <summary>Header-relative slicing (<c>slice.after</c>); null: only <see cref="SnapLength"/>.</summary>
    public SliceAfter? SliceAfter { get; init; }

    /// <summary>Bytes kept after the <see cref="SliceAfter"/> header (<c>slice.keep</c>).</summary>
    public int SliceKeep { get; init; } = 64;

    /// <summary>Mirror sessions with a source id of their own (<c>max-sources</c>); later ones are "other".</summary>
    public int MaxSources { get; init; } = 256;

    /// <summary>Mirror session names by source name (<c>session-names</c>), in the sources' descriptions.</summary>
    public IReadOnlyDictionary<string, string> SessionNames { get; init; } = new Dictionary<string, string>(StringComparer.Ordinal);
}

/// <summary>A sink as the decap stage sees it: its bounded hand-off and its counters.</summary>
public sealed record SinkPort(BatchQueue Queue, StageCounters Counters);

/// <summary>
/// Decapsulates every packet of a batch in place (offsets and lengths move, bytes stay), then applies the
/// inner BPF filter, dedup and slicing, compacts the batch and fans it out to the sinks (reference-counted).
/// Every packet that does not go out is counted under one named reason: the decap status, "filtered",
/// "deduplicated", "no-room" (a reassembled datagram that did not fit in the batch's buffer) or
/// "vni-not-allowed" (<c>allowed-vnis</c>). Decapsulated frames that carried a VNI are counted per VNI
/// (<see cref="VniCounters"/>).
/// Actor name: <c>decap</c> under its pipeline.
/// </summary>
public sealed class DecapActor : BatchStageActor
{
    private static readonly string[] StatusReason = BuildStatusReasons();

    private readonly DecapStageSettings _settings;
    private readonly IReadOnlyList<SinkPort> _sinks;
    private readonly Decapsulator _decapsulator;
    private readonly Deduplicator? _dedup;
    private readonly BpfFilter? _filter;
    private readonly int[] _reasonIndex = new int[DecapStatusInfo.Count];
    private readonly long[] _droppedPackets;
    private readonly long[] _droppedBytes;
    private readonly int _filtered;
    private readonly int _deduplicated;
    private readonly int _noRoom;
    private readonly int _vniNotAllowed;
    private readonly int _sliced;
    private readonly int _passedThrough;
    private readonly int _reassembled;
    private readonly int _unknownCriticalForwarded;
    private readonly int[] _sinkQueueFull;
    private readonly VniCounters? _vnis;
    private readonly SourceTable _sources;
    private readonly int _sourcesOverflowed;
    private readonly int _sliceFallback;
    private long _overflowedSeen;

    public DecapActor(DecapStageSettings settings, BatchQueue queue, StageCounters counters, IReadOnlyList<SinkPort> sinks, VniCounters? vnis = null,
        SourceTable? sources = null)
        : base(queue, counters, settings.Cpu, handsOn: true, nice: settings.Nice)
    {
        _vnis = vnis;
        _sources = sources ?? new SourceTable(settings.MaxSources, settings.SessionNames);
        _sourcesOverflowed = counters.EventIndex("sources-overflowed");
        _sliceFallback = counters.EventIndex("slice-fallback");
        _settings = settings;
        _sinks = sinks;
        _decapsulator = new Decapsulator(settings.Options);
        _dedup = settings.DedupWindow is { } window ? new Deduplicator(window, settings.DedupEntries) : null;
        _filter = settings.Filter is { } filter ? BpfFilter.Compile(filter) : null;
        for (int s = 0; s < DecapStatusInfo.Count; s++)
        {
            _reasonIndex[s] = DecapStatusInfo.Emits((DecapStatus)s) ? -1 : counters.ReasonIndex(StatusReason[s]);
        }

        _filtered = counters.ReasonIndex("filtered");
        _deduplicated = counters.ReasonIndex("deduplicated");
        _noRoom = counters.ReasonIndex("no-room");
        _vniNotAllowed = counters.ReasonIndex("vni-not-allowed");
        _sliced = counters.EventIndex("sliced");
        _passedThrough = counters.EventIndex("passed-through");
        _reassembled = counters.EventIndex("reassembled");
        _unknownCriticalForwarded = counters.EventIndex("geneve-unknown-critical-forwarded");
        _droppedPackets = new long[counters.Reasons.Length];
        _droppedBytes = new long[counters.Reasons.Length];
        _sinkQueueFull = [.. sinks.Select(s => s.Counters.ReasonIndex("queue-full"))];
    }

    /// <summary>Drop reasons of the decap stage: every non-emitting decap status, then the stage's own.</summary>
    public static IReadOnlyList<string> DropReasons { get; } =
        [.. Enumerable.Range(0, DecapStatusInfo.Count).Where(s => !DecapStatusInfo.Emits((DecapStatus)s)).Select(s => StatusReason[s]),
         "filtered", "deduplicated", "no-room", "vni-not-allowed"];

    /// <summary>Event counters of the decap stage (not drops): frames cut to the snap length, passed through
    /// unchanged (not a tunnel, policy pass), reassembled from outer fragments, Geneve frames with an unknown
    /// critical option emitted under <c>geneve.unknown-critical-options = forward</c>, frames of a mirror session
    /// that found the source table full (<c>max-sources</c>; they are source "other"), frames whose header named by
    /// <c>slice.after</c> could not be parsed (cut to <c>snap-length</c> instead, if set).</summary>
    public static IReadOnlyList<string> EventNames { get; } =
        ["sliced", "passed-through", "reassembled", "geneve-unknown-critical-forwarded", "sources-overflowed", "slice-fallback"];

    public static Props Props(DecapStageSettings settings, BatchQueue queue, StageCounters counters, IReadOnlyList<SinkPort> sinks, VniCounters? vnis = null,
        SourceTable? sources = null) =>
        Akka.Actor.Props.Create(() => new DecapActor(settings, queue, counters, sinks, vnis, sources));

    protected override void PostStop() => _filter?.Dispose();

    /// <summary>Rewrites the batch in place, then hands it to every sink; the decap queue's slot is freed (by the
    /// envelope) only after that.</summary>
    protected override void Process(PacketBatch batch, int count, long bytes)
    {
        Rewrite(batch, count);
        FanOut(batch);
    }

    /// <summary>Decapsulates, filters, dedups and slices the batch in place.</summary>
    private void Rewrite(PacketBatch batch, int count)
    {
        Array.Clear(_droppedPackets);
        Array.Clear(_droppedBytes);
        var buffer = batch.Buffer;
        var offsets = batch.Offsets;
        var lengths = batch.CapturedLengths;
        var originals = batch.OriginalLengths;
        var times = batch.Timestamps;
        var sourceIds = batch.SourceIds;
        var directions = batch.Directions;
        var switchTimes = batch.SwitchTimestamps;
        int kept = 0;
        long outBytes = 0;
        long sliced = 0, passed = 0, reassembled = 0, unknownCritical = 0, sliceFallback = 0;
        for (int i = 0; i < count; i++)
        {
            int length = lengths[i];
            var status = _decapsulator.Decapsulate(buffer, offsets[i], length, originals[i], times[i], out var result, out var metadata);
            if (!DecapStatusInfo.Emits(status))
            {
                Drop(_reasonIndex[(int)status], length);
                continue;
            }

            if (metadata.HasVni && _vnis is not null && !_vnis.Count(metadata.Vni, length))
            {
                Drop(_vniNotAllowed, length);
                continue;
            }

            if (metadata.GeneveUnknownCritical)
            {
                unknownCritical++;
            }

            int offset = result.Offset;
            if (status is DecapStatus.PassedThrough or DecapStatus.ReassembledPassedThrough)
            {
                passed++;
            }

            if (DecapStatusInfo.InReassemblyBuffer(status))
            {
                reassembled++;
                var frame = _decapsulator.ReassembledFrame;
                offset = batch.Reserve(frame.Length);
                if (offset < 0)
                {
                    Drop(_noRoom, length);
                    continue;
                }

                frame.CopyTo(buffer.AsSpan(offset));
            }

            var inner = buffer.AsSpan(offset, result.Length);
            if (_filter is not null && !_filter.Matches(inner, result.OriginalLength))
            {
                Drop(_filtered, length);
                continue;
            }

            if (_dedup is not null && _dedup.IsDuplicate(inner, times[i]))
            {
                Drop(_deduplicated, length);
                continue;
            }

            int innerLength = result.Length;
            int cut = -1;
            if (_settings.SliceAfter is { } after)
            {
                cut = HeaderSlice.CutLength(inner, after, _settings.SliceKeep);
                if (cut < 0)
                {
                    sliceFallback++;
                }
            }

            if (cut < 0 && _settings.SnapLength > 0)
            {
                cut = _settings.SnapLength;
            }

            if (cut >= 0 && innerLength > cut)
            {
                innerLength = cut;
                sliced++;
            }

            offsets[kept] = offset;
            lengths[kept] = innerLength;
            originals[kept] = result.OriginalLength;
            times[kept] = times[i];
            sourceIds[kept] = _sources.Resolve(metadata, innerLength, times[i]);
            directions[kept] = ErspanTime.Direction(metadata);
            switchTimes[kept] = ErspanTime.SwitchNanoseconds(metadata);
            outBytes += innerLength;
            kept++;
        }

        batch.Truncate(kept);
        batch.Sources = _sources;
        long overflowed = _sources.Overflowed;
        Counters.AddEvent(_sourcesOverflowed, overflowed - _overflowedSeen);
        _overflowedSeen = overflowed;
        Counters.AddOut(kept, outBytes);
        Counters.AddEvent(_sliced, sliced);
        Counters.AddEvent(_passedThrough, passed);
        Counters.AddEvent(_reassembled, reassembled);
        Counters.AddEvent(_sliceFallback, sliceFallback);
        Counters.AddEvent(_unknownCriticalForwarded, unknownCritical);
        for (int r = 0; r < _droppedPackets.Length; r++)
        {
            Counters.AddDropped(r, _droppedPackets[r], _droppedBytes[r]);
        }
    }

    private void Drop(int reason, int bytes)
    {
        _droppedPackets[reason]++;
        _droppedBytes[reason] += bytes;
    }

    private void FanOut(PacketBatch batch)
    {
        if (batch.Count == 0)
        {
            batch.SetReferences(1);
            batch.Release();
            return;
        }

        int count = batch.Count;
        long bytes = batch.TotalBytes();
        batch.SetReferences(_sinks.Count);
        for (int s = 0; s < _sinks.Count; s++)
        {
            var sink = _sinks[s];
            if (!sink.Queue.TryPost(batch))
            {
                sink.Counters.AddIn(count, bytes);
                sink.Counters.AddDropped(_sinkQueueFull[s], count, bytes);
                batch.Release();
            }
        }
    }

    private static string[] BuildStatusReasons()
    {
        var names = new string[DecapStatusInfo.Count];
        for (int s = 0; s < names.Length; s++)
        {
            names[s] = DecapStatusInfo.Name((DecapStatus)s);
        }

        return names;
    }
}
