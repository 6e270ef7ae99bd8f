using Fabric.Actors.Decap;
using Fabric.Actors.Mirrors;
using Fabric.Actors.Pipelines;
using Fabric.Node.Management;
using Xunit;

namespace Fabric.Node.Tests.Management;

/// <summary>How <c>GET /mirror-paths</c> joins aws rules' sessions with the pipelines' per-VNI counters.</summary>
public sealed class MirrorPathRoutesTests
{
    private const string NodeA = "akka.tcp://fabric@10.0.0.1:4053", NodeB = "akka.tcp://fabric@10.0.0.2:4053";

    private static MirrorSessionView Rule(string name, string? pipeline, int? vni, params MirrorBackendSession[] held) => new(
        new MirrorSessionSpec(name, "aws-prod", MirrorBackendKind.Aws, "", ["tag:Role=web"], MirrorDirection.Both, "tmt-01", null, true,
            new MirrorBackendOptions(FilterId: "tmf-01", Vni: vni, Pipeline: pipeline)),
        new MirrorSessionStatus(name, MirrorHealth.Healthy, $"{held.Length} ENIs mirrored", DateTimeOffset.UtcNow, 0, null), 0, null, [.. held]);

    private static MirrorBackendSession Held(string rule, string id, int vni) => new(rule, id, "eni-" + id, null, null, 1, vni, "tmt-01", null);

    private static PipelineVniView Pipeline(string name, VniStats? vnis) => new(name, "running", ["tap-mon0"], 0, vnis);

    private static VniStats Vnis(long other, int[]? allowed, params (int Vni, long Packets)[] rows) =>
        new([.. rows.Select(r => new VniCount(r.Vni, r.Packets, r.Packets * 100, allowed is null || allowed.Contains(r.Vni)))], other, other * 100, 64, [.. allowed ?? []]);

    [Fact]
    public void Each_session_gets_the_frames_of_its_vni_summed_over_the_nodes_running_the_pipeline()
    {
        var rules = new[] { Rule("web", "aws-mirror", null, Held("web", "a", 11), Held("web", "b", 22)) };
        var pipelines = new List<(string, PipelineVniView)>
        {
            (NodeA, Pipeline("aws-mirror", Vnis(0, null, (11, 5), (22, 1), (99, 4)))),
            (NodeB, Pipeline("aws-mirror", Vnis(2, null, (11, 3)))),
            (NodeB, Pipeline("erspan", Vnis(0, null, (7, 9)))),
        };

        var view = MirrorPathRoutes.Build(rules, (pipelines, []));

        Assert.Equal([(11, 8L, (string?)null), (22, 1L, null)], view.Paths.Select(p => (p.Vni!.Value, p.Packets!.Value, p.Note)));
        Assert.All(view.Paths, p => Assert.Equal([NodeA, NodeB], p.Receivers.Select(r => r.Node)));
        Assert.Equal([("aws-mirror", NodeA, "99", 4L), ("aws-mirror", NodeB, "other", 2L)], view.Unknown.Select(u => (u.Pipeline, u.Node, u.Vni, u.Packets)));
    }

    [Fact]
    public void A_rule_vni_shared_by_several_sessions_is_said_so()
    {
        var rules = new[] { Rule("web", "aws-mirror", 4242, Held("web", "a", 4242), Held("web", "b", 4242)) };
        var view = MirrorPathRoutes.Build(rules, ([(NodeA, Pipeline("aws-mirror", Vnis(0, null, (4242, 6))))], []));

        Assert.All(view.Paths, p => Assert.Equal((6L, "VNI 4242 is shared by 2 sessions of the rule (set no vni in the rule to tell them apart)"), (p.Packets!.Value, p.Note)));
        Assert.Empty(view.Unknown);
    }

    [Fact]
    public void Missing_pipeline_no_session_and_vnis_not_allowed_are_notes()
    {
        var rules = new[]
        {
            Rule("a-no-pipeline", null, null, Held("a-no-pipeline", "a", 1)),
            Rule("b-not-running", "elsewhere", null, Held("b-not-running", "b", 2)),
            Rule("c-no-eni", "aws-mirror", null),
            Rule("d-not-allowed", "aws-mirror", null, Held("d-not-allowed", "d", 5)),
        };
        var view = MirrorPathRoutes.Build(rules, ([(NodeA, Pipeline("aws-mirror", Vnis(0, [4], (4, 1))))], ["capture node X: its pipelines did not answer within 5 s"]));

        Assert.Equal(
            [
                "the rule names no pipeline (pipeline = NAME)",
                "pipeline elsewhere runs on no capture node that answered",
                "no session: no ENI matches the rule (or no report from its agent yet)",
                "VNI 5 is not in the pipeline's allowed-vnis: its frames are dropped",
            ],
            view.Paths.Select(p => p.Note));
        Assert.Null(view.Paths[0].Packets);
        Assert.Equal(0, view.Paths[3].Packets);
        Assert.Equal(("4", 1L), (view.Unknown.Single().Vni, view.Unknown.Single().Packets));
        Assert.Single(view.Problems);
    }
}
