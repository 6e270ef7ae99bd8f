using Akka.Actor;
using Fabric.Actors.Mirrors.Aws;
using Fabric.Actors.Mirrors.Backends;
using Fabric.Actors.Mirrors.IosXe;
using Fabric.Actors.Mirrors.Ovs;
using Fabric.Actors.Mirrors.Proxmox;
using Fabric.Actors.Mirrors.Tc;

namespace Fabric.Actors.Mirrors;

/// <summary>The agent of a site, by its backend.</summary>
public static class SiteAgents
{
    /// <summary>Timeout of one request to a backend's management API.</summary>
    public static readonly TimeSpan ApiTimeout = TimeSpan.FromSeconds(10);

    public static Props Props(MirrorSiteSettings site, MirrorSettings settings, IActorRef reportTo, MirrorMetrics? metrics)
    {
        ArgumentNullException.ThrowIfNull(site);
        return site.Backend switch
        {
            MirrorBackendKind.Ovs => OvsMirrorAgent.Props(site, settings, reportTo, metrics),
            MirrorBackendKind.Tc => TcMirrorAgent.Props(site, settings, reportTo, metrics),
            MirrorBackendKind.Iosxe => PollingMirrorAgent.Props(site, settings, reportTo, metrics, () => IosXe(site)),
            MirrorBackendKind.Aws => PollingMirrorAgent.Props(site, settings, reportTo, metrics, () => Aws(site)),
            MirrorBackendKind.Proxmox => ProxmoxMirrorAgent.Props(site, settings, reportTo, metrics, () => Proxmox(site)),
            _ => throw new ArgumentOutOfRangeException(nameof(site), site.Backend, "no agent for this backend"),
        };
    }

    /// <summary>The EC2 backend of an aws site (credentials from the standard AWS chain).</summary>
    public static IMirrorBackend Aws(MirrorSiteSettings site, TimeSpan? firstBackoff = null) =>
        new AwsBackend(AwsBackend.CreateClient(site, ApiTimeout), site.Name, firstBackoff ?? TimeSpan.FromMilliseconds(200));

    /// <summary>The PVE API client of a proxmox site (checks the token secret file now; re-read when it changes).</summary>
    public static ProxmoxClient Proxmox(MirrorSiteSettings site)
    {
        ArgumentNullException.ThrowIfNull(site);
        var api = site.Api ?? throw new InvalidOperationException($"site {site.Name}: no url");
        var secret = new SecretFile(api.SecretFile);
        secret.Read();
        return new ProxmoxClient(api, secret, ApiTimeout);
    }

    /// <summary>The RESTCONF backend of an iosxe site (checks the password file now; re-read when it changes).</summary>
    public static IMirrorBackend IosXe(MirrorSiteSettings site)
    {
        ArgumentNullException.ThrowIfNull(site);
        var api = site.Api ?? throw new InvalidOperationException($"site {site.Name}: no url");
        var secret = new SecretFile(api.SecretFile);
        secret.Read();
        return new IosXeBackend(new RestconfClient(api, secret, ApiTimeout));
    }
}
