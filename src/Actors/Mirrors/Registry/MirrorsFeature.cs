using Akka.Actor;
using Akka.Cluster.Tools.Singleton;
using Fabric.Actors.Hosting;
using Fabric.Actors.Metrics;
using Microsoft.Extensions.Logging;

namespace Fabric.Actors.Mirrors.Registry;

/// <summary>
/// Starts mirror supervision on a node: on every node a proxy to the supervisor singleton
/// (<c>/user/mirror-supervisor-proxy</c>, used by the management routes); on nodes with role
/// <c>supervisor</c> the singleton manager <c>/user/mirror-supervisor</c>; on nodes with role
/// <c>site-&lt;name&gt;</c> the singleton manager <c>/user/mirror-agent-&lt;name&gt;</c> of that
/// site's agent (exactly one node acts for a site at a time). Registers <see cref="MirrorMetrics"/>.
/// It lives beside the registry: it is where the product's backends are handed to the root.
/// </summary>
public sealed class MirrorsFeature : IFabricFeature
{
    public string Name => "mirrors";

    public void Validate(FabricStartupInfo startup)
    {
        ArgumentNullException.ThrowIfNull(startup);
        MirrorBackends.ReadSettings(startup.Config);
    }

    public bool ShouldStart(FabricStartupInfo startup) => true;

    public Task StartAsync(FabricNodeContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var settings = MirrorBackends.ReadSettings(context.Config);
        var system = context.System;
        var metrics = new MirrorMetrics();
        FabricMetrics.Get(system).Register(metrics);
        var log = context.LoggerFactory.CreateLogger<MirrorsFeature>();

        var proxy = system.ActorOf(
            ClusterSingletonProxy.Props("/user/" + MirrorSupervisor.Name, ClusterSingletonProxySettings.Create(system).WithRole("supervisor")),
            MirrorSupervisor.ProxyName);
        MirrorsExtension.Get(system).Initialize(proxy, metrics, settings);

        if (context.Startup.HasRole("supervisor"))
        {
            system.ActorOf(
                ClusterSingletonManager.Props(
                    MirrorSupervisor.Props(settings, AgentProxy),
                    MirrorSupervisor.TerminationMessage, // writes what it kept in memory before handing over
                    ClusterSingletonManagerSettings.Create(system).WithRole("supervisor")),
                MirrorSupervisor.Name);
            log.LogInformation("Mirror supervisor singleton candidate started ({Sessions} declared sessions)", settings.Mirrors.Length);
        }

        foreach (var site in settings.Sites.Where(s => context.Startup.HasRole(s.Role)))
        {
            var agent = settings.Backends.AgentProps(site, settings, proxy, metrics);
            system.ActorOf(
                ClusterSingletonManager.Props(agent, PoisonPill.Instance, ClusterSingletonManagerSettings.Create(system).WithRole(site.Role)),
                AgentName(site.Name));
            log.LogInformation("Mirror agent candidate for site {Site} ({Backend}) started", site.Name, site.Backend);
        }

        return Task.CompletedTask;
    }

    /// <summary>The singleton manager name of a site's agent under <c>/user</c>.</summary>
    public static string AgentName(string site) => "mirror-agent-" + site;

    /// <summary>A proxy (child of the supervisor) to the agent singleton of <paramref name="site"/>.</summary>
    private static IActorRef AgentProxy(IUntypedActorContext context, string site) =>
        context.ActorOf(
            ClusterSingletonProxy.Props("/user/" + AgentName(site), ClusterSingletonProxySettings.Create(context.System).WithRole("site-" + site)),
            "agent-proxy-" + site);
}
