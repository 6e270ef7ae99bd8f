using System.Collections.Immutable;
using Fabric.Actors.DataPlane;

namespace Fabric.Actors.Pipelines;

/// <summary>Asks the <see cref="PipelineManager"/> for every pipeline (reply: <see cref="PipelineList"/>).</summary>
public sealed record ListPipelines : IFabricMessage
{
    public static readonly ListPipelines Instance = new();
}

/// <summary>Asks for the stats of one pipeline, or of all when <see cref="Name"/> is null (reply: <see cref="PipelineStatsReply"/>).</summary>
public sealed record GetPipelineStats(string? Name) : IFabricMessage;

/// <summary>Stops a running pipeline (reply: <see cref="PipelineCommandResult"/> once it has stopped).</summary>
public sealed record StopPipeline(string Name) : IFabricMessage;

/// <summary>Starts a stopped pipeline (reply: <see cref="PipelineCommandResult"/> once its stages are created).</summary>
public sealed record StartPipeline(string Name) : IFabricMessage;

/// <summary>The outcome of a stop or start; <see cref="Message"/> is one line for the operator.</summary>
public sealed record PipelineCommandResult(bool Ok, string Message) : IFabricMessage;

/// <summary>One row of <c>fabric pipelines list</c>; <see cref="SinkWhenFull"/> is each sink's <c>when-full</c>
/// (<c>wait</c> or <c>drop</c>), in the order of <see cref="Sinks"/>.</summary>
public sealed record PipelineSummary(string Name, string State, string Source, ImmutableArray<string> Sinks,
    long Captured, long Delivered, long Dropped, string? Error, ImmutableArray<string> SinkWhenFull) : IFabricMessage;

public sealed record PipelineList(ImmutableArray<PipelineSummary> Pipelines) : IFabricMessage;

/// <summary>libpcap's own counters of the source and its outages.</summary>
public sealed record SourceStats(string Source, bool Up, long KernelReceived, long KernelDropped, long InterfaceDropped,
    long Outages, long Opens, int CaptureThreadId, string? LastError) : IFabricMessage;

/// <summary>
/// The counters of one pipeline. <see cref="Captured"/> = packets the capture stage took in; for each sink,
/// <c>Captured = that sink's out + its drops + the drops of capture and decap</c> (<see cref="Balanced"/>).
/// </summary>
public sealed record PipelineStats(string Name, string State, DateTimeOffset? Started, SourceStats Source,
    ImmutableArray<StageSnapshot> Stages, long Captured, bool Balanced, string? Error, Fabric.Actors.Decap.VniStats? Vnis = null) : IFabricMessage;

public sealed record PipelineStatsReply(ImmutableArray<PipelineStats> Pipelines, string? Error) : IFabricMessage;

/// <summary>
/// Asks a node's <see cref="PipelineManager"/> (<c>/user/pipelines</c>, also from other nodes) for every pipeline's
/// state, sinks and per-VNI counters (reply: <see cref="PipelineVniReply"/>); <c>fabric mirrors paths</c> joins them
/// with the AWS mirror sessions whose rule names the pipeline.
/// </summary>
public sealed record GetPipelineVnis : IFabricMessage
{
    public static readonly GetPipelineVnis Instance = new();
}

/// <summary>One pipeline as <see cref="GetPipelineVnis"/> sees it: state, sink stages (<c>tap-mon0</c>...), frames delivered by its sinks, per-VNI counters.</summary>
public sealed record PipelineVniView(string Name, string State, ImmutableArray<string> Sinks, long Delivered, Fabric.Actors.Decap.VniStats? Vnis) : IFabricMessage;

public sealed record PipelineVniReply(ImmutableArray<PipelineVniView> Pipelines) : IFabricMessage;

/// <summary>
/// Asks a node's <see cref="PipelineManager"/> for the source ids (mirror sessions) one pipeline's decap stage has
/// seen (reply: <see cref="PipelineSourcesReply"/>).
/// </summary>
public sealed record GetPipelineSources(string Name) : IFabricMessage;

/// <summary>One source id: its name (<c>erspan 198.18.1.10 session 7</c>), outer addresses and chain, frames and
/// bytes delivered by decap, packet times of the first and last frame (null before any), and the VLAN each TAP sink
/// with <c>mark-source = vlan</c> marks it with (empty when none does).</summary>
public sealed record PipelineSourceRow(int Id, string Name, string Description, long Frames, long Bytes,
    DateTimeOffset? FirstSeen, DateTimeOffset? LastSeen, ImmutableArray<PipelineSourceVlan> Vlans) : IFabricMessage;

/// <summary>The VLAN id TAP sink <c>Sink</c> (its stage name, <c>tap-mon0</c>) pushes on a source's frames.</summary>
public sealed record PipelineSourceVlan(string Sink, int Vlan) : IFabricMessage;

/// <summary>The source ids of a pipeline, id order; <c>Overflowed</c>: frames of sessions past <c>max-sources</c>
/// (counted under id 0, "other"). Error set when there is no such pipeline or it never ran.</summary>
public sealed record PipelineSourcesReply(string Name, int MaxSources, ImmutableArray<PipelineSourceRow> Sources, long Overflowed, string? Error)
    : IFabricMessage;
