using System.Collections.Immutable;
using System.Text.RegularExpressions;
using Akka.Actor;
using Fabric.Configuration;
using Fabric.Actors.Mirrors.Backends;
using Fabric.Protocols.Ovsdb;

namespace Fabric.Actors.Mirrors.Proxmox;

/// <summary>
/// Backend <c>proxmox</c>: a Proxmox VE cluster. Site keys: the PVE API (<see cref="ApiSiteKeys"/>,
/// the user a token id <c>USER@REALM!TOKENID</c>) and <c>nodes { pve1 = "tcp:10.0.0.1:6640" }</c>,
/// each PVE node's OVSDB endpoint. Sessions are checked as switch-port sessions (VM NICs, ports,
/// VLANs); the agent is <see cref="ProxmoxMirrorAgent"/>.
/// </summary>
public sealed partial class ProxmoxPlugin : IMirrorBackendPlugin
{
    public MirrorBackendKind Kind => MirrorBackendKind.Proxmox;

    public ImmutableArray<string> SiteKeys { get; } = [.. ApiSiteKeys.Keys, "nodes"];

    [GeneratedRegex("^[^@!\\s]+@[^@!\\s]+![A-Za-z0-9_.-]+$", RegexOptions.CultureInvariant)]
    private static partial Regex TokenIdSyntax();

    public MirrorBackendSiteSettings? ReadSite(ConfigReader site)
    {
        ArgumentNullException.ThrowIfNull(site);
        var api = ApiSiteKeys.Read(site, user => TokenIdSyntax().IsMatch(user) ? null : $"expected a Proxmox API token id USER@REALM!TOKENID, got \"{user}\"");
        var nodes = site.GetObject("nodes");
        var result = ImmutableDictionary.CreateBuilder<string, OvsdbEndpoint>(StringComparer.Ordinal);
        foreach (var node in nodes.Keys)
        {
            var text = nodes.GetString(node, allowEmpty: false);
            if (!OvsdbEndpoint.TryParse(text, out var endpoint, out var error))
            {
                throw nodes.Problem(node, error);
            }

            result[node] = endpoint!;
        }

        return result.Count == 0
            ? throw site.Problem("nodes", "expected at least one Proxmox node with its OVSDB endpoint, e.g. nodes { pve1 = \"tcp:10.0.0.1:6640\" }")
            : new ProxmoxSiteSettings(api, result.ToImmutable());
    }

    public ImmutableSortedDictionary<string, string> Describe(MirrorSiteSettings site)
    {
        ArgumentNullException.ThrowIfNull(site);
        var own = site.Own<ProxmoxSiteSettings>();
        var e = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        ApiSiteKeys.Describe(own.Api, e);
        foreach (var node in own.Nodes)
        {
            e["node " + node.Key] = node.Value.ToString();
        }

        return e.ToImmutable();
    }

    public (string Key, string Problem)? Check(MirrorSessionSpec spec) => PortSessionChecks.Check(spec);

    public Props AgentProps(MirrorSiteSettings site, MirrorSettings settings, IActorRef reportTo, MirrorMetrics? metrics) =>
        ProxmoxMirrorAgent.Props(site, settings, reportTo, metrics, () => Client(site));

    /// <summary>The PVE API client of a proxmox site (checks the token secret file now; re-read when it changes).</summary>
    public static ProxmoxClient Client(MirrorSiteSettings site)
    {
        ArgumentNullException.ThrowIfNull(site);
        var (api, secret) = ApiSiteKeys.Open(site.Own<ProxmoxSiteSettings>().Api);
        return new ProxmoxClient(api, secret, ApiSiteKeys.Timeout);
    }
}

/// <summary>
/// The own part of a proxmox site: the PVE API (<see cref="ApiSiteKeys"/>) and each PVE node's
/// OVSDB endpoint (<c>nodes { pve1 = "tcp:10.0.0.1:6640" }</c>).
/// </summary>
public sealed record ProxmoxSiteSettings(MirrorApiSettings Api, ImmutableDictionary<string, OvsdbEndpoint> Nodes) : MirrorBackendSiteSettings;
