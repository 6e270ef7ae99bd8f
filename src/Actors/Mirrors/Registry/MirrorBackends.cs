using System.Collections.Immutable;
using Fabric.Actors.Mirrors.Aws;
using Fabric.Actors.Mirrors.IosXe;
using Fabric.Actors.Mirrors.Ovs;
using Fabric.Actors.Mirrors.Proxmox;
using Fabric.Actors.Mirrors.Tc;

namespace Fabric.Actors.Mirrors.Registry;

/// <summary>
/// The registry of mirror backends: one line per backend. Adding a backend is a folder with its
/// <see cref="IMirrorBackendPlugin"/> (and its <see cref="MirrorBackendKind"/> value) plus one line
/// here. The order is the order in which a site's keys are listed and checked. This namespace sits
/// above the backends (it names them) and above the root (it hands <see cref="Set"/> to
/// <see cref="MirrorSettings.Read"/> and so to the supervisor and the agents); nothing below names it.
/// </summary>
public static class MirrorBackends
{
    public static MirrorBackendSet Set { get; } = new(
    [
        new OvsPlugin(),
        new TcPlugin(),
        new IosXePlugin(),
        new ProxmoxPlugin(),
        new AwsPlugin(),
    ]);

    public static ImmutableArray<IMirrorBackendPlugin> All => Set.All;

    /// <inheritdoc cref="MirrorBackendSet.SiteKeys"/>
    public static ImmutableArray<string> SiteKeys => Set.SiteKeys;

    /// <inheritdoc cref="MirrorBackendSet.Find"/>
    public static IMirrorBackendPlugin? Find(MirrorBackendKind kind) => Set.Find(kind);

    public static IMirrorBackendPlugin Of(MirrorBackendKind kind) => Set.Of(kind);

    /// <summary>The mirror settings of <paramref name="config"/>, read with the product's backends.</summary>
    public static MirrorSettings ReadSettings(Akka.Configuration.Config config) => MirrorSettings.Read(config, Set);
}
