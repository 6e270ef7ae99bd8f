using System.Collections.Immutable;
using System.Text.RegularExpressions;
using Fabric.Configuration;

namespace Fabric.Actors.Mirrors.Backends;

/// <summary>
/// The keys of a site reached over an HTTPS management API (iosxe, proxmox): <c>url</c>,
/// <c>user</c>, <c>secret-file</c>, <c>ca-file</c>, <c>fingerprint</c>.
/// </summary>
public static partial class ApiSiteKeys
{
    /// <summary>Timeout of one request to a backend's management API.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    public static ImmutableArray<string> Keys { get; } = ["url", "user", "secret-file", "ca-file", "fingerprint"];

    [GeneratedRegex("^([0-9A-Fa-f]{2}:?){31}[0-9A-Fa-f]{2}$", RegexOptions.CultureInvariant)]
    private static partial Regex FingerprintSyntax();

    /// <summary>Reads the API keys; <paramref name="userProblem"/> checks the user (null: any non-empty user).</summary>
    public static MirrorApiSettings Read(ConfigReader site, Func<string, string?>? userProblem = null)
    {
        ArgumentNullException.ThrowIfNull(site);
        var text = site.GetString("url", allowEmpty: false);
        if (!Uri.TryCreate(text, UriKind.Absolute, out var url) || url.Scheme != Uri.UriSchemeHttps || url.UserInfo.Length > 0)
        {
            throw site.Problem("url", $"expected an https:// URL without credentials, got \"{text}\"");
        }

        var user = site.GetString("user", allowEmpty: false);
        if (userProblem?.Invoke(user) is { } bad)
        {
            throw site.Problem("user", bad);
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

    /// <summary>The API and its secret, checked now (re-read when the file changes).</summary>
    public static (MirrorApiSettings Api, SecretFile Secret) Open(MirrorApiSettings api)
    {
        ArgumentNullException.ThrowIfNull(api);
        var secret = new SecretFile(api.SecretFile);
        secret.Read();
        return (api, secret);
    }

    /// <summary>The API's entries of <c>GET /sites</c>: url, user, the secret by file only, how TLS is verified.</summary>
    public static void Describe(MirrorApiSettings api, ImmutableSortedDictionary<string, string>.Builder into)
    {
        ArgumentNullException.ThrowIfNull(api);
        ArgumentNullException.ThrowIfNull(into);
        into["url"] = api.Url.GetLeftPart(UriPartial.Path);
        into["user"] = api.User;
        into["secret"] = $"file {api.SecretFile} (redacted)";
        into["tls"] = api.Fingerprint is not null ? "pinned sha256 " + api.Fingerprint : api.CaFile is not null ? "ca " + api.CaFile : "system trust";
    }
}

/// <summary>
/// An HTTPS management API: its base URL, the user (IOS-XE user name, or the Proxmox token id
/// <c>USER@REALM!TOKENID</c>), the file holding the secret (password or token secret; refused when
/// readable by others), and how the server's certificate is verified: a CA file (PEM) or a pinned
/// SHA-256 fingerprint of the certificate. Holds no secret itself.
/// </summary>
public sealed record MirrorApiSettings(Uri Url, string User, string SecretFile, string? CaFile, string? Fingerprint);
