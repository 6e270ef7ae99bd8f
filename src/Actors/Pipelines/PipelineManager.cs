using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using Fabric.Actors.DataPlane;
using Fabric.Actors.Metrics;
using Fabric.Actors.Sinks;
using Fabric.Protocols.Decap;

namespace Fabric.Actors.Pipelines;

/// <summary>
/// Owns the node's pipelines: starts those with <c>autostart</c> at start, stops and starts them on request,
/// and answers stats from the shared counters (no round trip through the data-plane stages). Registers the
/// pipeline metrics with <see cref="FabricMetrics"/>. Actor name: <c>pipelines</c> (the management routes and
/// the console address it as <c>/user/pipelines</c>).
/// </summary>
public sealed class PipelineManager : UntypedActor
{
    /// <summary>Name under /user.</summary>
    public const string Name = "pipelines";

    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly PipelineMetrics _metrics;
    private IDisposable? _registration;

    public PipelineManager(IReadOnlyList<PipelineSettings> pipelines)
    {
        foreach (var settings in pipelines)
        {
            _entries[settings.Name] = new Entry(settings);
        }

        _metrics = new PipelineMetrics(() => [.. _entries.Values.Select(e => e.Published)]);
    }

    public static Props Props(IReadOnlyList<PipelineSettings> pipelines) =>
        Akka.Actor.Props.Create(() => new PipelineManager(pipelines));

    protected override void PreStart()
    {
        _registration = FabricMetrics.Get(Context.System).Register(_metrics);
        foreach (var entry in _entries.Values.Where(e => e.Settings.Autostart))
        {
            Start(entry);
        }
    }

    protected override void PostStop() => _registration?.Dispose();

    protected override void OnReceive(object message)
    {
        switch (message)
        {
            case ListPipelines:
                Sender.Tell(new PipelineList([.. _entries.Values.OrderBy(e => e.Settings.Name, StringComparer.Ordinal).Select(Summary)]));
                break;
            case GetPipelineStats stats:
                HandleStats(stats);
                break;
            case GetPipelineVnis:
                Sender.Tell(new PipelineVniReply([.. _entries.Values.OrderBy(e => e.Settings.Name, StringComparer.Ordinal).Select(VniView)]));
                break;
            case GetPipelineSources sources:
                HandleSources(sources);
                break;
            case StopPipeline stop:
                HandleStop(stop);
                break;
            case StartPipeline start:
                HandleStart(start);
                break;
            case PipelineFailed failed when _entries.TryGetValue(failed.Name, out var entry):
                entry.Error = failed.Reason;
                break;
            case Terminated terminated:
                HandleTerminated(terminated.ActorRef);
                break;
            default:
                Unhandled(message);
                break;
        }
    }

    private void HandleStats(GetPipelineStats request)
    {
        if (request.Name is null)
        {
            Sender.Tell(new PipelineStatsReply([.. _entries.Values.OrderBy(e => e.Settings.Name, StringComparer.Ordinal).Select(e => Stats(e))], null));
        }
        else if (_entries.TryGetValue(request.Name, out var entry))
        {
            Sender.Tell(new PipelineStatsReply([Stats(entry)], null));
        }
        else
        {
            Sender.Tell(new PipelineStatsReply([], $"no pipeline named {request.Name}"));
        }
    }

    private void HandleSources(GetPipelineSources request)
    {
        if (!_entries.TryGetValue(request.Name, out var entry))
        {
            Sender.Tell(new PipelineSourcesReply(request.Name, 0, [], 0, $"no pipeline named {request.Name}"));
            return;
        }

        var table = entry.Runtime?.Sources;
        if (table is null)
        {
            Sender.Tell(new PipelineSourcesReply(request.Name, entry.Settings.Decap.MaxSources, [], 0, $"pipeline {request.Name} has not run"));
            return;
        }

        static DateTimeOffset? Time(long ns) => ns == 0 ? null : DateTimeOffset.UnixEpoch.AddTicks(ns / 100);
        var marking = MarkingTaps(entry.Settings.Sinks).ToList();
        var rows = table.Snapshot()
            .Select(s => new PipelineSourceRow(s.Id, s.Name, s.Description, s.Frames, s.Bytes, Time(s.FirstSeenNs), Time(s.LastSeenNs),
                [.. marking.Select(t => new PipelineSourceVlan(t.Stage, t.VlanFor(s.Id, s.Name)))]));
        Sender.Tell(new PipelineSourcesReply(request.Name, table.MaxSources, [.. rows], table.Overflowed, null));
    }

    /// <summary>The TAP sinks with <c>mark-source = vlan</c>, balance members included, in configuration order.</summary>
    internal static IEnumerable<TapSinkSettings> MarkingTaps(IEnumerable<SinkSettings> sinks)
    {
        foreach (var sink in sinks)
        {
            switch (sink)
            {
                case TapSinkSettings { MarkSource: true } tap:
                    yield return tap;
                    break;
                case BalanceSinkSettings balance:
                    foreach (var member in MarkingTaps(balance.Members))
                    {
                        yield return member;
                    }

                    break;
            }
        }
    }

    private void HandleStop(StopPipeline request)
    {
        if (!_entries.TryGetValue(request.Name, out var entry))
        {
            Sender.Tell(new PipelineCommandResult(false, $"no pipeline named {request.Name}"));
            return;
        }

        if (entry.Actor is null)
        {
            Sender.Tell(new PipelineCommandResult(true, $"pipeline {request.Name} is already stopped"));
            return;
        }

        entry.StopRequested = true;
        entry.Waiters.Add(Sender);
        Context.Stop(entry.Actor);
    }

    private void HandleStart(StartPipeline request)
    {
        if (!_entries.TryGetValue(request.Name, out var entry))
        {
            Sender.Tell(new PipelineCommandResult(false, $"no pipeline named {request.Name}"));
            return;
        }

        if (entry.Actor is not null)
        {
            Sender.Tell(new PipelineCommandResult(!entry.StopRequested,
                entry.StopRequested ? $"pipeline {request.Name} is stopping; start it again when it has stopped" : $"pipeline {request.Name} is already running"));
            return;
        }

        Start(entry);
        Sender.Tell(new PipelineCommandResult(true, $"pipeline {request.Name} started"));
    }

    private void HandleTerminated(IActorRef actor)
    {
        var entry = _entries.Values.FirstOrDefault(e => Equals(e.Actor, actor));
        if (entry is null)
        {
            return;
        }

        entry.Actor = null;
        if (entry.StopRequested)
        {
            _log.Info("Pipeline {0} stopped", entry.Settings.Name);
            entry.Error = null;
        }
        else
        {
            entry.Error ??= "stopped unexpectedly";
            _log.Error("Pipeline {0} failed: {1}", entry.Settings.Name, entry.Error);
        }

        entry.StopRequested = false;
        foreach (var waiter in entry.Waiters)
        {
            waiter.Tell(new PipelineCommandResult(true, $"pipeline {entry.Settings.Name} stopped"));
        }

        entry.Waiters.Clear();
        entry.Publish();
    }

    private void Start(Entry entry)
    {
        entry.Runtime = new PipelineRuntime(entry.Settings);
        entry.Error = null;
        entry.StopRequested = false;
        entry.Actor = Context.Watch(Context.ActorOf(PipelineActor.Props(entry.Runtime), "pipeline-" + entry.Settings.Name));
        entry.Publish();
        _log.Info("Pipeline {0} started: {1} -> {2}", entry.Settings.Name, entry.Settings.Source.SourceName,
            string.Join(", ", entry.Settings.Sinks.Select(s => s.Stage)));
    }

    private static PipelineSummary Summary(Entry entry)
    {
        var stats = Stats(entry);
        long delivered = stats.Stages.Length > 2 ? stats.Stages.Skip(2).Min(s => s.Out.Packets) : 0;
        // Frames without a tunnel header are passed over, not lost: `stats` shows them apart, and so
        // does the list's DROPPED column.
        var passedOver = DecapStatusInfo.Name(DecapStatus.NotEncapsulated);
        long dropped = stats.Stages.Sum(s => s.DroppedPackets - s.Dropped.GetValueOrDefault(passedOver).Packets);
        return new PipelineSummary(entry.Settings.Name, stats.State, entry.Settings.Source.SourceName,
            [.. entry.Settings.Sinks.Select(s => s.Stage)], stats.Captured, delivered, dropped, entry.Error,
            [.. entry.Settings.Sinks.Select(s => s.WhenFull.ToString().ToLowerInvariant())]);
    }

    private static PipelineVniView VniView(Entry entry)
    {
        var stats = Stats(entry);
        long delivered = stats.Stages.Length > 2 ? stats.Stages.Skip(2).Min(s => s.Out.Packets) : 0;
        return new PipelineVniView(entry.Settings.Name, stats.State, [.. entry.Settings.Sinks.Select(s => s.Stage)], delivered, stats.Vnis);
    }

    internal static PipelineStats Stats(Entry entry) => PipelineStatsBuilder.Build(entry.Published);

    /// <summary>The manager's view of one pipeline; <see cref="Published"/> is what other threads read.</summary>
    internal sealed class Entry(PipelineSettings settings)
    {
        private volatile PublishedPipeline _published = new(settings, null, "stopped", null);

        public PipelineSettings Settings { get; } = settings;

        public PipelineRuntime? Runtime { get; set; }

        public IActorRef? Actor { get; set; }

        public bool StopRequested { get; set; }

        public string? Error { get; set; }

        public List<IActorRef> Waiters { get; } = [];

        public PublishedPipeline Published => _published;

        public void Publish() =>
            _published = new PublishedPipeline(Settings, Runtime, Actor is null ? (Error is null ? "stopped" : "failed") : "running", Error);
    }
}

/// <summary>An immutable view of a pipeline for readers on other threads (HTTP, /metrics).</summary>
public sealed record PublishedPipeline(PipelineSettings Settings, PipelineRuntime? Runtime, string State, string? Error);

/// <summary>Builds <see cref="PipelineStats"/> from the shared counters.</summary>
public static class PipelineStatsBuilder
{
    public static PipelineStats Build(PublishedPipeline pipeline)
    {
        var runtime = pipeline.Runtime;
        if (runtime is null)
        {
            return new PipelineStats(pipeline.Settings.Name, pipeline.State, null,
                new SourceStats(pipeline.Settings.Source.SourceName, false, 0, 0, 0, 0, 0, 0, null), [], 0, true, pipeline.Error);
        }

        var stages = runtime.Snapshot();
        var status = runtime.CaptureStatus;
        string state = pipeline.State == "running" && status.Finished && runtime.Idle ? "finished" : pipeline.State;
        var source = new SourceStats(pipeline.Settings.Source.SourceName, status.Up, status.KernelReceived, status.KernelDropped,
            status.InterfaceDropped, status.Outages, status.Opens, status.ThreadId, status.LastError);
        return new PipelineStats(pipeline.Settings.Name, state, runtime.Started, source, [.. stages],
            stages[0].In.Packets, IsBalanced(stages), pipeline.Error, runtime.Vnis?.Snapshot());
    }

    /// <summary>The conservation law: every stage balances, each stage takes in what the previous one let out,
    /// so for every sink: captured = sink out + Σ drops of capture, decap and that sink.</summary>
    public static bool IsBalanced(IReadOnlyList<StageSnapshot> stages)
    {
        if (stages.Any(s => !s.Balanced))
        {
            return false;
        }

        if (stages.Count < 2 || stages[0].Out.Packets != stages[1].In.Packets)
        {
            return false;
        }

        for (int s = 2; s < stages.Count; s++)
        {
            if (stages[s].In.Packets != stages[1].Out.Packets)
            {
                return false;
            }
        }

        return true;
    }
}
