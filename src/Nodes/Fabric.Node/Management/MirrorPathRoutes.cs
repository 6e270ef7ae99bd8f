using Akka.Actor;
using Akka.Cluster;
using Fabric.Actors.Mirrors;
using Fabric.Actors.Mirrors.Registry;
using Fabric.Actors.Pipelines;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Fabric.Node.Management;

/// <summary>
/// <c>GET /mirror-paths[?rule=NAME]</c>: for every AWS Traffic Mirror session of every aws rule,
/// source ENI (instance, Name tag) → session (id, number, VNI) → target (the sensor's ENI/NLB) →
/// the pipeline the rule names, on every capture node that runs it, with its sinks and the frames
/// of that VNI its decap stage counted; plus the VNIs those pipelines received that belong to no
/// session ("unknown", and "other" beyond the pipeline's VNI table). Gathered from the supervisor
/// singleton (through this node's proxy: the sessions its agents last read from EC2) and from
/// <c>/user/pipelines</c> on every member with role <c>capture</c>.
/// </summary>
public sealed class MirrorPathRoutes : IManagementRoutes
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(5);

    public void Map(IEndpointRouteBuilder routes) => routes.MapGet("/mirror-paths", PathsAsync);

    private static async Task<IResult> PathsAsync(HttpContext http, ActorSystem system)
    {
        var supervisor = MirrorsExtension.Get(system).Supervisor;
        if (supervisor is null)
        {
            return ManagementResults.Error(StatusCodes.Status503ServiceUnavailable, "mirror supervision is not running on this node");
        }

        var only = http.Request.Query.TryGetValue("rule", out var rule) ? rule.ToString() : null;
        var receivers = Receivers(system);
        MirrorSessionList list;
        try
        {
            list = await supervisor.Ask<MirrorSessionList>(ListMirrorSessions.Instance, AskTimeout).ConfigureAwait(false);
        }
        catch (AskTimeoutException)
        {
            return ManagementResults.Error(StatusCodes.Status503ServiceUnavailable,
                $"no answer from the mirror supervisor within {AskTimeout.TotalSeconds:0} s; is a node with role supervisor up?");
        }

        var backends = MirrorsExtension.Get(system).Settings?.Backends ?? MirrorBackends.Set;
        var rules = list.Sessions.Where(v => backends.Find(v.Spec.Backend) is { HasPaths: true } && (only is null || v.Spec.Name == only)).ToList();
        if (only is not null && rules.Count == 0)
        {
            return ManagementResults.Error(StatusCodes.Status404NotFound, list.Sessions.Any(v => v.Spec.Name == only)
                ? $"mirror session {only} is not an aws rule (paths are shown for the sessions of backend {string.Join(", ", backends.All.Where(b => b.HasPaths).Select(b => b.Name))})"
                : $"no mirror session {only}");
        }

        return Results.Json(Build(rules, await receivers.ConfigureAwait(false)), ManagementResults.Json);
    }

    /// <summary>Every capture member's pipelines (a member that does not answer is a problem line).</summary>
    private static async Task<(List<(string Node, PipelineVniView Pipeline)> Pipelines, List<string> Problems)> Receivers(ActorSystem system)
    {
        var members = Cluster.Get(system).State.Members.Where(m => m.Status == MemberStatus.Up && m.HasRole(PipelinesFeature.Role)).ToList();
        var answers = await Task.WhenAll(members.Select(async m =>
        {
            try
            {
                var reply = await system.ActorSelection(m.Address + "/user/" + PipelineManager.Name).Ask<PipelineVniReply>(GetPipelineVnis.Instance, AskTimeout).ConfigureAwait(false);
                return (Node: m.Address.ToString(), Reply: (PipelineVniReply?)reply);
            }
            catch (AskTimeoutException)
            {
                return (Node: m.Address.ToString(), Reply: (PipelineVniReply?)null);
            }
        })).ConfigureAwait(false);
        return (
            [.. answers.Where(a => a.Reply is not null).SelectMany(a => a.Reply!.Pipelines.Select(p => (a.Node, p)))],
            [.. answers.Where(a => a.Reply is null).Select(a => $"capture node {a.Node}: its pipelines did not answer within {AskTimeout.TotalSeconds:0} s")]);
    }

    /// <summary>Joins the rules' sessions with the pipelines by pipeline name and VNI.</summary>
    internal static PathsJson Build(IReadOnlyList<MirrorSessionView> rules, (List<(string Node, PipelineVniView Pipeline)> Pipelines, List<string> Problems) receivers)
    {
        var paths = new List<PathJson>();
        var known = new Dictionary<string, HashSet<int>>(StringComparer.Ordinal);
        foreach (var view in rules.OrderBy(v => v.Spec.Name, StringComparer.Ordinal))
        {
            var spec = view.Spec;
            var pipeline = spec.Opts.Pipeline;
            var at = pipeline is null ? [] : receivers.Pipelines.Where(r => r.Pipeline.Name == pipeline).ToList();
            if (pipeline is not null && !known.ContainsKey(pipeline))
            {
                known[pipeline] = [];
            }

            var held = view.BackendSessions.IsDefault ? [] : view.BackendSessions;
            var receiverJson = at.Select(r => new ReceiverJson(r.Node, r.Pipeline.State, r.Pipeline.Sinks, r.Pipeline.Delivered)).ToList();
            var status = view.Status.Describe();
            if (held.Length == 0)
            {
                paths.Add(new PathJson(spec.Name, spec.Site, status, null, null, null, null, null, spec.Opts.Vni, spec.Output, null, pipeline, receiverJson, null, null,
                    Note(pipeline, at, "no session: no ENI matches the rule (or no report from its agent yet)")));
                continue;
            }

            foreach (var s in held)
            {
                long? packets = null, bytes = null;
                string? note = null;
                if (s.Vni is { } vni && pipeline is not null)
                {
                    known[pipeline].Add(vni);
                    var rows = at.Where(r => r.Pipeline.Vnis is not null).Select(r => r.Pipeline.Vnis!.Vnis.FirstOrDefault(c => c.Vni == vni)).ToList();
                    if (at.Count > 0 && at.All(r => r.Pipeline.Vnis is not null))
                    {
                        packets = rows.Sum(c => c?.Packets ?? 0);
                        bytes = rows.Sum(c => c?.Bytes ?? 0);
                    }

                    if (rows.Count > 0 && rows.All(c => c is null) && at.Any(r => r.Pipeline.Vnis!.OtherPackets > 0))
                    {
                        note = "VNI not in the pipeline's VNI table (its frames, if any, are counted under other)";
                    }
                    else if (at.Any(r => r.Pipeline.Vnis is { Allowed.Length: > 0 } v && !v.Allowed.Contains(vni)))
                    {
                        note = $"VNI {vni} is not in the pipeline's allowed-vnis: its frames are dropped";
                    }
                    else if (at.Count > 0 && at.Any(r => r.Pipeline.Vnis is null))
                    {
                        note = "per-VNI counting is off in the pipeline (vni-counters = 0)";
                    }
                }

                var sharing = held.Count(o => o.Vni == s.Vni);
                if (note is null && sharing > 1)
                {
                    note = $"VNI {s.Vni} is shared by {sharing} sessions of the rule (set no vni in the rule to tell them apart)";
                }

                paths.Add(new PathJson(spec.Name, spec.Site, status, s.Source, s.InstanceId, s.SourceName, s.Id, s.Number, s.Vni, s.Target, s.TargetDetail, pipeline,
                    receiverJson, packets, bytes, note ?? Note(pipeline, at, null)));
            }
        }

        var unknown = new List<UnknownJson>();
        foreach (var (node, pipeline) in receivers.Pipelines.Where(r => known.ContainsKey(r.Pipeline.Name)).OrderBy(r => r.Pipeline.Name, StringComparer.Ordinal).ThenBy(r => r.Node, StringComparer.Ordinal))
        {
            if (pipeline.Vnis is not { } vnis)
            {
                continue;
            }

            foreach (var c in vnis.Vnis.Where(c => c.Packets > 0 && !known[pipeline.Name].Contains(c.Vni)))
            {
                unknown.Add(new UnknownJson(pipeline.Name, node, c.Vni.ToString(System.Globalization.CultureInfo.InvariantCulture), c.Packets, c.Bytes, c.Allowed));
            }

            if (vnis.OtherPackets > 0)
            {
                unknown.Add(new UnknownJson(pipeline.Name, node, "other", vnis.OtherPackets, vnis.OtherBytes, vnis.Allowed.IsDefaultOrEmpty));
            }
        }

        return new PathsJson(paths, unknown, receivers.Problems);
    }

    private static string? Note(string? pipeline, List<(string Node, PipelineVniView Pipeline)> at, string? otherwise) =>
        pipeline is null ? "the rule names no pipeline (pipeline = NAME)"
        : at.Count == 0 ? $"pipeline {pipeline} runs on no capture node that answered"
        : otherwise;

    /// <summary>The answer of <c>GET /mirror-paths</c>.</summary>
    public sealed record PathsJson(IReadOnlyList<PathJson> Paths, IReadOnlyList<UnknownJson> Unknown, IReadOnlyList<string> Problems);

    /// <summary>
    /// One AWS session's path. <paramref name="Packets"/>/<paramref name="Bytes"/>: frames with the session's VNI
    /// counted by the pipeline's decap stage, summed over the nodes running it (null: not known).
    /// </summary>
    public sealed record PathJson(
        string Rule,
        string Site,
        string Status,
        string? Source,
        string? Instance,
        string? SourceName,
        string? Session,
        int? SessionNumber,
        int? Vni,
        string Target,
        string? TargetDetail,
        string? Pipeline,
        IReadOnlyList<ReceiverJson> Receivers,
        long? Packets,
        long? Bytes,
        string? Note);

    /// <summary>A node running the pipeline: its state, sink stages (<c>tap-mon0</c>...) and frames its sinks delivered.</summary>
    public sealed record ReceiverJson(string Node, string State, IReadOnlyList<string> Sinks, long Delivered);

    /// <summary>Frames of a VNI no session of the pipeline's rules has (<paramref name="Vni"/> <c>other</c>: VNIs beyond the pipeline's table).</summary>
    public sealed record UnknownJson(string Pipeline, string Node, string Vni, long Packets, long Bytes, bool Allowed);
}
