using Fabric.Actors.Capture;
using Fabric.Actors.DataPlane;
using Fabric.Actors.Decap;
using Fabric.Actors.Sinks;

namespace Fabric.Actors.Pipelines;

/// <summary>
/// Everything one run of a pipeline shares between its stages and its observers: the batch pool, the bounded
/// hand-offs, and the counters of every stage. Created when the pipeline starts; its counters stay readable
/// after it stopped (until the next start).
/// </summary>
public sealed class PipelineRuntime
{
    public PipelineRuntime(PipelineSettings settings)
    {
        Settings = settings;
        Pool = new PacketBatchPool(settings.Batches, settings.BatchPackets, settings.BatchBytes);
        Capture = new StageCounters("capture", CaptureLoop.DropReasons, settings.Source.Stream is not null ? StreamSource.EventNames : null);
        CaptureStatus = new CaptureStatus();
        // A file source is replayed without loss: the capture thread waits for a free batch, and queues as
        // deep as the pool can never overflow. A live source's capture thread waits for decap (packets wait in
        // the kernel ring) when decap's queue (queue-depth) is full or the pool is dry. A sink that waits
        // (when-full = wait) gets a queue as deep as the pool, so it is never refused a batch: when it is behind
        // it holds the pool's batches and capture waits for them; a sink that drops gets queue-depth.
        bool file = settings.Source.File is not null;
        DecapQueue = new BatchQueue(file ? settings.Batches : settings.QueueDepth);
        Decap = new StageCounters("decap", DecapActor.DropReasons, DecapActor.EventNames);
        Sinks = [.. settings.Sinks.Select(s => new SinkPort(
            new BatchQueue(file || s.WhenFull == SinkWhenFull.Wait ? settings.Batches : settings.QueueDepth),
            s.NewCounters()))];
        Vnis = settings.Decap.VniCounters > 0 || settings.Decap.AllowedVnis.Count > 0
            ? new VniCounters(settings.Decap.VniCounters, [.. settings.Decap.AllowedVnis])
            : null;
        Sources = new Fabric.Protocols.Decap.SourceTable(settings.Decap.MaxSources, settings.Decap.SessionNames);
        Started = DateTimeOffset.UtcNow;
    }

    /// <summary>The mirror sessions seen by the decap stage (source ids, their frames and bytes).</summary>
    public Fabric.Protocols.Decap.SourceTable Sources { get; }

    public PipelineSettings Settings { get; }

    public PacketBatchPool Pool { get; }

    public StageCounters Capture { get; }

    public CaptureStatus CaptureStatus { get; }

    public BatchQueue DecapQueue { get; }

    public StageCounters Decap { get; }

    public IReadOnlyList<SinkPort> Sinks { get; }

    /// <summary>Frames per VNI at the decap stage; null when per-VNI counting is off.</summary>
    public VniCounters? Vnis { get; }

    public DateTimeOffset Started { get; }

    /// <summary>True when no batch is waiting in front of or being worked on by any stage.</summary>
    public bool Idle => DecapQueue.Pending == 0 && Sinks.All(s => s.Queue.Pending == 0) && Pool.Available == Pool.Size;

    public IReadOnlyList<StageSnapshot> Snapshot() =>
        [Capture.Snapshot(), Decap.Snapshot(), .. Sinks.Select(s => s.Counters.Snapshot())];
}
