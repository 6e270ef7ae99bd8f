using System.Collections.Immutable;
using System.Text.RegularExpressions;
using Fabric.Actors.Configuration;
using Fabric.Protocols.Ovsdb;

namespace Fabric.Actors.Mirrors;

/// <summary>
/// Reads the backend keys of a <c>fabric.sites[]</c> entry: <c>url</c>, <c>user</c>,
/// <c>secret-file</c>, <c>ca-file</c>, <c>fingerprint</c> (iosxe, proxmox), <c>nodes</c> (proxmox),
/// <c>region</c>, <c>service-url</c> (aws). Keys of another backend are refused.
/// </summary>
internal static partial class SiteBackends
{
    [GeneratedRegex("^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$", RegexOptions.CultureInvariant)]
    private static partial Regex FingerprintSyntax();

    [GeneratedRegex("^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$", RegexOptions.CultureInvariant)]
    private static partial Regex RegionSyntax();

    [GeneratedRegex("^[^@!\\s]+@[^@!\\s]+![A-Za-z0-9_.-]+$", RegexOptions.CultureInvariant)]
    private static partial Regex TokenIdSyntax();

    public static MirrorSiteSettings Read(ConfigReader site, MirrorSiteSettings basic)
    {
        var backend = basic.Backend;
        string[] api = ["url", "user", "secret-file", "ca-file", "fingerprint"];
        var allowed = backend switch
        {
            MirrorBackendKind.Iosxe => api,
            MirrorBackendKind.Proxmox => [.. api, "nodes"],
            MirrorBackendKind.Aws => ["region", "service-url"],
            _ => Array.Empty<string>(),
        };
        foreach (var key in (string[])["url", "user", "secret-file", "ca-file", "fingerprint", "nodes", "region", "service-url"])
        {
            if (site.Has(key) && Array.IndexOf(allowed, key) < 0)
            {
                throw site.Problem(key, $"not a key of backend {Kebab(backend)}");
            }
        }

        return backend switch
        {
            MirrorBackendKind.Iosxe => basic with { Api = ReadApi(site, backend) },
            MirrorBackendKind.Proxmox => basic with { Api = ReadApi(site, backend), ProxmoxNodes = ReadNodes(site) },
            MirrorBackendKind.Aws => ReadAws(site, basic),
            _ => basic,
        };
    }

    public static string Kebab(MirrorBackendKind backend) => backend.ToString().ToLowerInvariant();

    private static MirrorApiSettings ReadApi(ConfigReader site, MirrorBackendKind backend)
    {
        var text = site.GetString("url", allowEmpty: false);
        if (!Uri.TryCreate(text, UriKind.Absolute, out var url) || url.Scheme != Uri.UriSchemeHttps || url.UserInfo.Length > 0)
        {
            throw site.Problem("url", $"expected an https:// URL without credentials, got \"{text}\"");
        }

        var user = site.GetString("user", allowEmpty: false);
        if (backend == MirrorBackendKind.Proxmox && !TokenIdSyntax().IsMatch(user))
        {
            throw site.Problem("user", $"expected a Proxmox API token id USER@REALM!TOKENID, got \"{user}\"");
        }

        var secret = site.GetString("secret-file", allowEmpty: false);
        if (SecretFiles.Problem(secret) is { } problem)
        {
            throw site.Problem("secret-file", problem);
        }

        var ca = site.GetOptionalString("ca-file");
        var fingerprint = site.GetOptionalString("fingerprint");
        if (ca is not null && !File.Exists(ca))
        {
            throw site.Problem("ca-file", $"file \"{ca}\" does not exist");
        }

        if (fingerprint is not null && !FingerprintSyntax().IsMatch(fingerprint))
        {
            throw site.Problem("fingerprint", "expected the certificate's SHA-256 fingerprint as 64 hex digits (colons allowed)");
        }

        return new MirrorApiSettings(url, user, secret, ca, fingerprint);
    }

    private static ImmutableDictionary<string, OvsdbEndpoint> ReadNodes(ConfigReader site)
    {
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

        return result.Count == 0 ? throw site.Problem("nodes", "expected at least one Proxmox node with its OVSDB endpoint, e.g. nodes { pve1 = \"tcp:10.0.0.1:6640\" }") : result.ToImmutable();
    }

    private static MirrorSiteSettings ReadAws(ConfigReader site, MirrorSiteSettings basic)
    {
        var region = site.GetString("region", allowEmpty: false);
        if (!RegionSyntax().IsMatch(region))
        {
            throw site.Problem("region", $"expected an AWS region such as eu-west-1, got \"{region}\"");
        }

        Uri? serviceUrl = null;
        if (site.GetOptionalString("service-url") is { } text && (!Uri.TryCreate(text, UriKind.Absolute, out serviceUrl) || serviceUrl.Scheme is not ("https" or "http")))
        {
            throw site.Problem("service-url", $"expected an http(s):// URL, got \"{text}\"");
        }

        return basic with { AwsRegion = region, AwsServiceUrl = serviceUrl };
    }
}
