using System.Collections.Immutable;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Akka.Actor;
using Fabric.Configuration;
using Fabric.Actors.Mirrors.Backends;

namespace Fabric.Actors.Mirrors.IosXe;

/// <summary>
/// Backend <c>iosxe</c>: Cisco IOS-XE over RESTCONF. Site keys: the HTTPS API
/// (<see cref="ApiSiteKeys"/>). Sessions: sources are router interfaces (<c>GigabitEthernet1</c>,
/// <c>TenGigabitEthernet1/0/1</c>), the output is the ERSPAN destination IPv4 address, options
/// session-number (1-1024), erspan-id (1-1023), origin-ip (IPv4), mtu (176-9000). The agent is a
/// <see cref="PollingMirrorAgent"/> over <see cref="IosXeBackend"/>.
/// </summary>
public sealed partial class IosXePlugin : IMirrorBackendPlugin
{
    public MirrorBackendKind Kind => MirrorBackendKind.Iosxe;

    public ImmutableArray<string> SiteKeys => ApiSiteKeys.Keys;

    public ImmutableArray<string> SessionKeys { get; } = ["session-number", "erspan-id", "origin-ip", "mtu"];

    [GeneratedRegex("^[A-Za-z][A-Za-z-]*[0-9][0-9/.:]*$", RegexOptions.CultureInvariant)]
    private static partial Regex InterfaceSyntax();

    public MirrorBackendSiteSettings? ReadSite(ConfigReader site) => new IosXeSiteSettings(ApiSiteKeys.Read(site));

    public ImmutableSortedDictionary<string, string> Describe(MirrorSiteSettings site)
    {
        ArgumentNullException.ThrowIfNull(site);
        var e = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        ApiSiteKeys.Describe(site.Own<IosXeSiteSettings>().Api, e);
        return e.ToImmutable();
    }

    public (string Key, string Problem)? Check(MirrorSessionSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var o = spec.Opts;
        if (spec.SnapLength is not null)
        {
            return ("snaplen", "snaplen needs backend ovs (IOS-XE ERSPAN has mtu)");
        }

        for (var i = 0; i < spec.Sources.Length; i++)
        {
            if (!InterfaceSyntax().IsMatch(spec.Sources[i]) || spec.Sources[i].Length > 64)
            {
                return ($"sources[{i}]", $"expected a router interface name (e.g. GigabitEthernet1), got \"{spec.Sources[i]}\"");
            }
        }

        if (!IsIpv4(spec.Output))
        {
            return ("output", $"expected the ERSPAN destination IPv4 address for backend iosxe, got \"{spec.Output}\"");
        }

        return o.SessionNumber is not (>= 1 and <= 1024) ? ("session-number", "expected 1-1024 (monitor session N), required for backend iosxe")
            : o.ErspanId is not (>= 1 and <= 1023) ? ("erspan-id", "expected 1-1023, required for backend iosxe")
            : !IsIpv4(o.OriginIp) ? ("origin-ip", $"expected an IPv4 address, required for backend iosxe, got \"{o.OriginIp}\"")
            : o.Mtu is { } mtu && mtu is < 176 or > 9000 ? ("mtu", $"expected 176-9000, got {mtu}")
            : o.FilterId is not null || o.Vni is not null || o.PacketLength is not null || o.Pipeline is not null ? ("filter-id", "filter-id, vni, packet-length and pipeline are for backend aws")
            : null;
    }

    public Props AgentProps(MirrorSiteSettings site, MirrorSettings settings, IActorRef reportTo, MirrorMetrics? metrics) =>
        PollingMirrorAgent.Props(site, settings, reportTo, metrics, () => Backend(site));

    /// <summary>The RESTCONF backend of an iosxe site (checks the password file now; re-read when it changes).</summary>
    public static IMirrorBackend Backend(MirrorSiteSettings site)
    {
        ArgumentNullException.ThrowIfNull(site);
        var (api, secret) = ApiSiteKeys.Open(site.Own<IosXeSiteSettings>().Api);
        return new IosXeBackend(new RestconfClient(api, secret, ApiSiteKeys.Timeout));
    }

    private static bool IsIpv4(string? text) =>
        text is not null && IPAddress.TryParse(text, out var ip) && ip.AddressFamily == AddressFamily.InterNetwork && ip.ToString() == text;
}

/// <summary>The own part of an iosxe site: its RESTCONF API (<see cref="ApiSiteKeys"/>).</summary>
public sealed record IosXeSiteSettings(MirrorApiSettings Api) : MirrorBackendSiteSettings;
