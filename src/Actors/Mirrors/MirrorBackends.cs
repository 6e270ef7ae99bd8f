using System.Collections.Immutable;
using Akka.Actor;
using Fabric.Actors.Mirrors.Aws;
using Fabric.Actors.Mirrors.IosXe;
using Fabric.Actors.Mirrors.Ovs;
using Fabric.Actors.Mirrors.Proxmox;
using Fabric.Actors.Mirrors.Tc;

namespace Fabric.Actors.Mirrors;

/// <summary>
/// The registry of mirror backends: one line per backend. Adding a backend is a folder with its
/// <see cref="IMirrorBackendPlugin"/> (and its <see cref="MirrorBackendKind"/> value) plus one line
/// here. The order is the order in which a site's keys are listed and checked.
/// </summary>
public static class MirrorBackends
{
    public static ImmutableArray<IMirrorBackendPlugin> All { get; } =
    [
        new OvsPlugin(),
        new TcPlugin(),
        new IosXePlugin(),
        new ProxmoxPlugin(),
        new AwsPlugin(),
    ];

    /// <summary>The backend of <paramref name="kind"/>, or null when none is registered.</summary>
    public static IMirrorBackendPlugin? Find(MirrorBackendKind kind)
    {
        foreach (var plugin in All)
        {
            if (plugin.Kind == kind)
            {
                return plugin;
            }
        }

        return null;
    }

    public static IMirrorBackendPlugin Of(MirrorBackendKind kind) =>
        Find(kind) ?? throw new ArgumentOutOfRangeException(nameof(kind), kind, "no mirror backend registered for this kind");

    /// <summary>
    /// Every key of a <c>fabric.sites[]</c> entry: name and backend, then each backend's keys in
    /// registration order; the common audit-interval follows the first backend's keys, where the
    /// unknown-key message has always listed it.
    /// </summary>
    public static ImmutableArray<string> SiteKeys { get; } = AllSiteKeys();

    private static ImmutableArray<string> AllSiteKeys()
    {
        var keys = new List<string> { "name", "backend" };
        for (var i = 0; i < All.Length; i++)
        {
            keys.AddRange(All[i].SiteKeys.Where(k => !keys.Contains(k)));
            if (i == 0)
            {
                keys.Add("audit-interval");
            }
        }

        return [.. keys];
    }
}

/// <summary>The agent of a site, by its backend.</summary>
public static class SiteAgents
{
    public static Props Props(MirrorSiteSettings site, MirrorSettings settings, IActorRef reportTo, MirrorMetrics? metrics)
    {
        ArgumentNullException.ThrowIfNull(site);
        return MirrorBackends.Of(site.Backend).AgentProps(site, settings, reportTo, metrics);
    }
}
