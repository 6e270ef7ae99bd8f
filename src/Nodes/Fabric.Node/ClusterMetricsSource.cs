using Akka.Actor;
using Akka.Cluster;
using Fabric.Actors.Metrics;

namespace Fabric.Node;

/// <summary>Cluster membership and node metrics for <c>/metrics</c>.</summary>
internal sealed class ClusterMetricsSource(ActorSystem system, long starts) : IMetricsSource
{
    private static readonly MemberStatus[] Statuses = Enum.GetValues<MemberStatus>();

    public void Write(PrometheusTextWriter writer)
    {
        var cluster = Cluster.Get(system);
        var state = cluster.State;

        writer.Family("fabric_cluster_members", MetricType.Gauge, "Cluster members seen by this node, by member status.");
        foreach (var status in Statuses)
        {
            writer.Sample("fabric_cluster_members", state.Members.Count(m => m.Status == status), ("status", status.ToString().ToLowerInvariant()));
        }

        writer.Family("fabric_cluster_unreachable_members", MetricType.Gauge, "Members this node's failure detector considers unreachable.");
        writer.Sample("fabric_cluster_unreachable_members", state.Unreachable.Count);

        writer.Family("fabric_cluster_self_up", MetricType.Gauge, "1 when this node is an Up member, else 0.");
        writer.Sample("fabric_cluster_self_up", cluster.SelfMember.Status == MemberStatus.Up ? 1 : 0);

        writer.Family("fabric_cluster_self_removed", MetricType.Gauge, "1 when this node was removed from the cluster (downed) and runs on without it: capture continues; restart the node to rejoin.");
        writer.Sample("fabric_cluster_self_removed", cluster.IsTerminated ? 1 : 0);

        writer.Family("fabric_cluster_is_leader", MetricType.Gauge, "1 when this node is the cluster leader, else 0.");
        writer.Sample("fabric_cluster_is_leader", cluster.SelfAddress.Equals(state.Leader) ? 1 : 0);

        writer.Family("fabric_node_starts_total", MetricType.Counter, "Starts of this node recorded in the journal (survives restarts).");
        writer.Sample("fabric_node_starts_total", starts);
    }
}
