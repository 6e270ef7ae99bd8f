using Fabric.Protocols.Ovsdb;

namespace Fabric.Actors.Mirrors.Backends;

/// <summary>
/// The own part of an ovs site: its OVSDB endpoint (<c>ovsdb</c>, with the <c>ssl</c> files of an
/// <c>ssl:</c> endpoint). Read by the ovs plug-in; here rather than in <c>Mirrors/Ovs</c> because
/// proxmox builds one per PVE node for the ovs agents it runs, and a backend never names another.
/// </summary>
public sealed record OvsdbSiteSettings(OvsdbEndpoint Endpoint) : MirrorBackendSiteSettings
{
    /// <summary>Default OVSDB endpoint of a Debian/Proxmox Open vSwitch.</summary>
    public const string DefaultEndpoint = "unix:/var/run/openvswitch/db.sock";

    /// <summary><see cref="DefaultEndpoint"/>, parsed.</summary>
    public static OvsdbSiteSettings Default { get; } = new(OvsdbEndpoint.Parse(DefaultEndpoint));

    /// <summary>The OVSDB endpoint of <paramref name="site"/>: its own, or the default when it has none.</summary>
    public static OvsdbEndpoint Of(MirrorSiteSettings site)
    {
        ArgumentNullException.ThrowIfNull(site);
        return (site.BackendSettings as OvsdbSiteSettings ?? Default).Endpoint;
    }
}
