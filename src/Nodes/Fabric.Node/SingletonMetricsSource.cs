using Akka.Actor;
using Akka.Cluster;
using Fabric.Actors.Metrics;
using Fabric.Actors.Mirrors;

namespace Fabric.Node;

/// <summary>
/// Where the mirror-supervisor singleton runs, as this node sees it: Akka places a cluster
/// singleton on the oldest Up member that has the singleton's role (<c>supervisor</c>). That is
/// this node's view; <c>fabric_cluster_singleton_running</c> is the fact: the supervisor actor
/// itself runs here now (during a partition, before the Split Brain Resolver decides, two sides
/// may each see themselves as the oldest; only one runs the singleton).
/// </summary>
internal sealed class SingletonMetricsSource(ActorSystem system) : IMetricsSource
{
    private const string SupervisorRole = "supervisor";

    public void Write(PrometheusTextWriter writer)
    {
        var cluster = Cluster.Get(system);
        // A node removed from the cluster (downed) keeps its last view; it is no member any more.
        var members = cluster.IsTerminated ? [] : cluster.State.Members;
        Member? oldest = null;
        foreach (var member in members)
        {
            if (member.Status == MemberStatus.Up && member.HasRole(SupervisorRole) && (oldest is null || member.IsOlderThan(oldest)))
            {
                oldest = member;
            }
        }

        writer.Family("fabric_cluster_singleton_local", MetricType.Gauge, "1 when the singleton runs on this node (the oldest Up member with its role), else 0.");
        writer.Sample("fabric_cluster_singleton_local", oldest is not null && oldest.Address.Equals(cluster.SelfAddress) ? 1 : 0, ("singleton", "mirror-supervisor"));
        writer.Family("fabric_cluster_singleton_hosts", MetricType.Gauge, "Members that can host the singleton (Up, with its role); 0: the singleton cannot run.");
        writer.Sample("fabric_cluster_singleton_hosts", members.Count(m => m.Status == MemberStatus.Up && m.HasRole(SupervisorRole)), ("singleton", "mirror-supervisor"));
        writer.Family("fabric_cluster_singleton_running", MetricType.Gauge, "1 while the singleton's actor runs on this node (started and not yet stopped), else 0.");
        writer.Sample("fabric_cluster_singleton_running", MirrorsExtension.Get(system).SupervisorRunning ? 1 : 0, ("singleton", "mirror-supervisor"));
    }
}
