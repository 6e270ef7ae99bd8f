using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Fabric.Actors.Mirrors.Backends;

/// <summary>
/// HTTP clients for backend management APIs (RESTCONF, PVE API). The server certificate is
/// verified against the configured CA file (chain to that root and matching host name), or it
/// must have the pinned SHA-256 fingerprint (then neither the chain nor the name is consulted:
/// the pin is the trust, as Proxmox's self-signed node certificates need); without either, the
/// system's trust store applies.
/// </summary>
public static class ApiHttp
{
    public static HttpClient Create(MirrorApiSettings api, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(api);
        var handler = new SocketsHttpHandler
        {
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = timeout,
            SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = Validator(api.CaFile, api.Fingerprint) },
        };
        return new HttpClient(handler, disposeHandler: true) { BaseAddress = api.Url, Timeout = timeout };
    }

    /// <summary>The certificate check for a CA file or a pinned fingerprint (both null: system trust).</summary>
    public static RemoteCertificateValidationCallback Validator(string? caFile, string? fingerprint)
    {
        if (fingerprint is not null)
        {
            var pinned = Convert.FromHexString(fingerprint.Replace(":", "", StringComparison.Ordinal));
            return (_, certificate, _, _) => certificate is not null
                && CryptographicOperations.FixedTimeEquals(SHA256.HashData(certificate.GetRawCertData()), pinned);
        }

        if (caFile is not null)
        {
            var roots = new X509Certificate2Collection();
            roots.ImportFromPemFile(caFile);
            return (_, certificate, _, errors) =>
            {
                if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
                {
                    return false;
                }

                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.AddRange(roots);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                using var cert = new X509Certificate2(certificate);
                return chain.Build(cert);
            };
        }

        return (_, _, _, errors) => errors == SslPolicyErrors.None;
    }
}
